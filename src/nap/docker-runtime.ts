// The napping Runtime for an app deployed by Kamal: one Docker container (the
// target kamal-proxy routes to, `<12-hex id>:<port>` or a name), and with
// `group` on, the other roles of the same deployment (e.g. `job`).
//
// Group rules, from how Kamal labels and names containers:
// - members carry the target's `service` and `destination` labels, so a
//   service never touches another service's containers (accessories are
//   labelled `<service>-<name>`, so they are never members either);
// - per other role, only the newest container: Kamal keeps up to five old
//   versions exited next to the current one, and waking those would run old
//   code (kamal#1916 hit the same trap from the pruning side);
// - never other containers of the target's own role: those are old versions.
import type { Runtime, RuntimeState } from './runtime.ts';
import type { ContainerInfo, DockerEngine, EngineEvent, EventStream } from '../docker/engine.ts';

// Docker's own default for `docker stop`.
const DEFAULT_STOP_TIMEOUT_SECONDS = 10;
const DEFAULT_RECONNECT_DELAY_MS = 1000;
const MAX_RECONNECT_DELAY_MS = 30_000;

export interface DockerRuntimeOptions {
  engine: DockerEngine;
  container: string; // full id, short id or name
  group?: boolean; // default false
  stopTimeoutSeconds?: number; // SIGTERM grace before Docker kills
  reconnectDelayMs?: number; // first wait before reopening a dropped event stream; doubles up to 30 s
  // Problems that do not fail the call: a group member that would not start
  // or stop, a dropped event stream. Meant for the logger.
  onWarning?: (message: string) => void;
}

// Docker's states → ours. Paused and restarting containers do not serve.
function stateOf(info: ContainerInfo | null): RuntimeState {
  if (info === null) return 'missing';
  return info.running ? 'running' : 'stopped';
}

const EVENT_STATES: Record<string, RuntimeState> = {
  start: 'running',
  unpause: 'running',
  die: 'stopped',
  pause: 'stopped',
  destroy: 'missing',
};

export class DockerRuntime implements Runtime {
  readonly description: string;
  readonly #engine: DockerEngine;
  readonly #ref: string;
  readonly #group: boolean;
  readonly #stopTimeoutSeconds: number;
  readonly #firstReconnectDelayMs: number;
  readonly #warn: (message: string) => void;

  #targetId: string | null = null; // the full id, once seen
  // The state we last knew of; events matching it are not external changes
  // (our own start emits a `start`). undefined: report the next event.
  #known: RuntimeState | undefined;
  #busy = 0; // our own starts and stops in flight
  #groupWork: Promise<void> | null = null;
  readonly #listeners = new Set<(state: RuntimeState) => void>();
  #stream: EventStream | null = null;
  #reconnectTimer: NodeJS.Timeout | null = null;
  #reconnectDelayMs: number;
  #resumed = false; // the current stream replaces one that dropped
  #closed = false;

  constructor(options: DockerRuntimeOptions) {
    this.#engine = options.engine;
    this.#ref = options.container;
    this.#group = options.group ?? false;
    this.#stopTimeoutSeconds = options.stopTimeoutSeconds ?? DEFAULT_STOP_TIMEOUT_SECONDS;
    this.#firstReconnectDelayMs = options.reconnectDelayMs ?? DEFAULT_RECONNECT_DELAY_MS;
    this.#reconnectDelayMs = this.#firstReconnectDelayMs;
    this.#warn = options.onWarning ?? (() => {});
    this.description = `docker:${options.container}${this.#group ? ' (group)' : ''}`;
  }

  async inspect(): Promise<RuntimeState> {
    return stateOf(await this.#engine.inspectContainer(this.#ref));
  }

  // Resolves once the target has started: it is what the visitor waits for.
  // Group members start after it, in parallel, in the background; a member
  // that fails is a warning, not a failed wake.
  start(): Promise<void> {
    return this.#own(() => this.#start());
  }

  // Stops the target and its group in parallel. Stopping a stopped or missing
  // app is fine. A member that fails to stop is a warning.
  stop(): Promise<void> {
    return this.#own(() => this.#stop());
  }

  // What the target uses now (and with `group`, its running members), as
  // `docker stats` counts it; null when the target is not running.
  async memoryBytes(): Promise<number | null> {
    const target = await this.#engine.inspectContainer(this.#ref);
    if (target === null || !target.running) return null;
    const members = this.#group ? (await this.#membersOrNone(target)).filter((m) => m.running) : [];
    const [own, ...rest] = await Promise.all([target, ...members].map((c) => this.#engine.containerMemoryBytes(c.id).catch(() => null)));
    return own === null || own === undefined ? null : rest.reduce<number>((sum, v) => sum + (v ?? 0), own);
  }

  // Docker events for the target while anyone listens, except changes we
  // caused. A dropped stream is reopened, backing off, and what was missed
  // meanwhile is reported from a fresh inspect.
  onExternalChange(listener: (state: RuntimeState) => void): () => void {
    this.#listeners.add(listener);
    if (this.#listeners.size === 1) this.#watch();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#unwatch();
    };
  }

  close(): void {
    this.#closed = true;
    this.#listeners.clear();
    this.#unwatch();
  }

  // Private

  async #own(operation: () => Promise<void>): Promise<void> {
    this.#busy++;
    try {
      await operation();
    } finally {
      this.#busy--;
    }
  }

  async #start(): Promise<void> {
    const target = await this.#engine.inspectContainer(this.#ref);
    if (target === null) {
      this.#known = 'missing';
      throw new Error(`${this.description}: container ${this.#ref} does not exist`);
    }
    this.#setTargetId(target.id);
    this.#known = 'running'; // set before the call: its event may arrive before its answer
    try {
      await this.#startOne(target);
    } catch (error) {
      this.#known = undefined;
      throw new Error(`${this.description}: could not start ${target.name}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (this.#group) {
      const work = this.#startGroup(target);
      this.#groupWork = work;
      void work.then(() => {
        if (this.#groupWork === work) this.#groupWork = null;
      });
    }
  }

  async #stop(): Promise<void> {
    // A wake still starting members must finish first, or they would start
    // after we stopped them.
    await this.#groupWork;
    const target = await this.#engine.inspectContainer(this.#ref);
    if (target === null) {
      this.#known = 'missing';
      return;
    }
    this.#setTargetId(target.id);
    const members = this.#group ? await this.#membersOrNone(target) : [];
    this.#known = 'stopped';
    const up = members.filter((m) => !['created', 'exited', 'dead'].includes(m.status));
    const [first, ...rest] = await Promise.allSettled(
      [target, ...up].map((c) => this.#engine.stopContainer(c.id, this.#stopTimeoutSeconds)),
    );
    rest.forEach((result, i) => {
      if (result.status === 'rejected') this.#warn(`${this.description}: could not stop ${up[i]!.name}: ${message(result.reason)}`);
    });
    if (first!.status === 'rejected') {
      this.#known = undefined;
      throw new Error(`${this.description}: could not stop ${target.name}: ${message(first!.reason)}`, {
        cause: first!.reason,
      });
    }
  }

  async #startOne(c: ContainerInfo): Promise<void> {
    // Docker refuses to start a paused container (409); it needs an unpause.
    if (c.status === 'paused') await this.#engine.unpauseContainer(c.id);
    else await this.#engine.startContainer(c.id);
  }

  async #startGroup(target: ContainerInfo): Promise<void> {
    const members = await this.#membersOrNone(target);
    await Promise.all(
      members
        .filter((m) => !m.running)
        .map(async (m) => {
          try {
            await this.#startOne(m);
          } catch (error) {
            this.#warn(`${this.description}: could not start group member ${m.name}: ${message(error)}`);
          }
        }),
    );
  }

  async #membersOrNone(target: ContainerInfo): Promise<ContainerInfo[]> {
    try {
      return await this.#members(target);
    } catch (error) {
      this.#warn(`${this.description}: could not list the group of ${target.name}: ${message(error)}`);
      return [];
    }
  }

  async #members(target: ContainerInfo): Promise<ContainerInfo[]> {
    const service = target.labels.service;
    if (service === undefined || service === '') return []; // not a Kamal container: no group
    const destination = target.labels.destination;
    const role = target.labels.role ?? '';
    const labels: Record<string, string> = destination === undefined ? { service } : { service, destination };
    const newestByRole = new Map<string, ContainerInfo>();
    for (const c of await this.#engine.listContainers({ labels, all: true })) {
      // The Engine filtered already; checking again keeps the promise even
      // behind a socket proxy that drops filters.
      if (c.id === target.id || c.labels.service !== service || c.labels.destination !== destination) continue;
      const r = c.labels.role ?? '';
      if (r === role) continue;
      const best = newestByRole.get(r);
      if (best === undefined || c.created > best.created || (c.created === best.created && c.running && !best.running)) {
        newestByRole.set(r, c);
      }
    }
    return [...newestByRole.values()];
  }

  #watch(): void {
    if (this.#closed || this.#stream !== null || this.#listeners.size === 0) return;
    // The Engine's container filter matches id and name *prefixes*, so events
    // are also checked against the exact container in #onEvent.
    const stream = this.#engine.events(
      { type: ['container'], container: [this.#targetId ?? this.#ref] },
      (event) => this.#onEvent(event),
      (error) => this.#onStreamEnd(stream, error),
    );
    this.#stream = stream;
    const resumed = this.#resumed;
    stream.ready.then(
      async () => {
        this.#reconnectDelayMs = this.#firstReconnectDelayMs;
        let info: ContainerInfo | null;
        try {
          info = await this.#engine.inspectContainer(this.#ref);
        } catch (error) {
          this.#warn(`${this.description}: could not inspect after subscribing to events: ${message(error)}`);
          return;
        }
        if (this.#stream !== stream) return;
        if (info !== null) this.#setTargetId(info.id);
        if (this.#stream !== stream) return; // reopened for a recreated container
        // While our own start or stop runs, it sets the state itself.
        if (this.#busy > 0) return;
        // A new subscription starts from the present; a resumed one reports
        // what changed while no stream was open.
        if (resumed) this.#report(stateOf(info));
        else this.#known = stateOf(info);
      },
      () => {}, // reported through #onStreamEnd
    );
  }

  // A container recreated under the same name has a new id: the event stream,
  // filtered on the old id, must follow it.
  #setTargetId(id: string): void {
    const changed = this.#targetId !== null && this.#targetId !== id;
    this.#targetId = id;
    if (changed && this.#stream !== null) {
      this.#unwatch();
      this.#watch();
    }
  }

  #unwatch(): void {
    this.#stream?.close();
    this.#stream = null;
    if (this.#reconnectTimer !== null) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    this.#resumed = false;
    this.#reconnectDelayMs = this.#firstReconnectDelayMs;
  }

  #onStreamEnd(stream: EventStream, error: Error): void {
    if (this.#stream !== stream) return;
    this.#stream = null;
    if (this.#closed || this.#listeners.size === 0) return;
    const delay = this.#reconnectDelayMs;
    this.#warn(`${this.description}: Docker event stream ended (${error.message}); reconnecting in ${delay} ms`);
    this.#reconnectDelayMs = Math.min(delay * 2, MAX_RECONNECT_DELAY_MS);
    this.#resumed = true;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      this.#watch();
    }, delay);
    this.#reconnectTimer.unref();
  }

  #onEvent(event: EngineEvent): void {
    const id = this.#targetId;
    const ours = id !== null ? event.id === id : event.id.startsWith(this.#ref) || event.attributes.name === this.#ref;
    if (!ours) return;
    this.#targetId = event.id;
    const state = EVENT_STATES[event.action];
    if (state !== undefined) this.#report(state);
  }

  #report(state: RuntimeState): void {
    if (state === this.#known) return;
    this.#known = state;
    for (const listener of [...this.#listeners]) {
      try {
        listener(state);
      } catch (error) {
        this.#warn(`${this.description}: a state listener threw: ${message(error)}`);
      }
    }
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
