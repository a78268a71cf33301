// A small Docker Engine API client: what napping needs (inspect, start,
// unpause, stop, list by label, events, memory in use). A Pool, not one
// Client: a group wake or nap runs several slow calls at once. Each event
// stream holds a Client of its own for as long as it lives.
import { type Pool, undici } from '../http/undici.ts';

export const DEFAULT_SOCKET_PATH = '/var/run/docker.sock';
// Used only when /version answers without an ApiVersion. 1.41 is Docker 20.10,
// the oldest engine still in common use (Debian 12's docker.io).
const FALLBACK_API_VERSION = '1.41';
const DEFAULT_TIMEOUT_MS = 10_000;

export interface ContainerInfo {
  id: string; // full 64-hex id
  name: string; // without Docker's leading '/'
  running: boolean; // only the 'running' status: paused and restarting are not serving
  status: string; // Docker's state: created, running, paused, restarting, removing, exited, dead
  labels: Record<string, string>;
  created: number; // ms since the epoch (whole seconds when it came from a list)
}

export interface EngineEvent {
  type: string; // container, image, network...
  action: string; // start, die, stop, destroy, pause, unpause...
  id: string; // the actor's id (the full container id for container events)
  attributes: Record<string, string>; // labels, plus name, image, exitCode...
  timeNano: number;
}

export interface EventStream {
  // Resolves once the Engine has answered 200; rejects if subscribing failed.
  // dockerd answers just before it registers the subscriber, so callers that
  // must not miss an event inspect after this.
  readonly ready: Promise<void>;
  close(): void;
}

export interface ListOptions {
  // Every pair must match; a '' value matches a label present with an empty
  // value, which is how Kamal labels a service that has no destination.
  labels?: Record<string, string>;
  all?: boolean; // include stopped containers (Docker lists only running ones by default)
}

export interface EngineOptions {
  socketPath?: string; // the daemon's unix socket (the default)
  url?: string; // or an HTTP endpoint, e.g. a filtering socket proxy: http://docker-proxy:2375
  timeoutMs?: number; // per call; stop adds its own grace period on top
}

// An error answered by the Engine: the message is the Engine's own.
export class EngineError extends Error {
  readonly statusCode: number;
  constructor(message: string, statusCode: number) {
    super(message);
    this.name = 'EngineError';
    this.statusCode = statusCode;
  }
}

// `DOCKER_HOST` picks the daemon, as it does for the docker CLI:
// `unix:///path`, or `tcp://host:port` for a filtering socket proxy in
// between (plain HTTP: such a proxy sits on a private Docker network).
// TLS (DOCKER_TLS_VERIFY) and ssh:// are refused rather than silently ignored.
export function endpointFromEnv(env: NodeJS.ProcessEnv = process.env): { socketPath: string } | { url: string } {
  const host = env.DOCKER_HOST;
  if (host === undefined || host === '') return { socketPath: DEFAULT_SOCKET_PATH };
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  if (host.startsWith('tcp://') && !env.DOCKER_TLS_VERIFY) {
    const url = new URL(`http://${host.slice('tcp://'.length)}`);
    if (url.pathname !== '/' || url.search !== '') throw new Error(`DOCKER_HOST=${host}: expected tcp://host:port`);
    return { url: url.origin };
  }
  throw new Error(`DOCKER_HOST=${host} is not supported: only unix:// sockets and plain tcp:// (no TLS) are`);
}

type Method = 'GET' | 'POST';

export class DockerEngine {
  readonly socketPath: string; // "" when the daemon is reached over TCP
  readonly address: string; // the socket path or URL, for messages
  readonly timeoutMs: number;
  readonly #origin: string;
  readonly #pool: Pool;
  #apiVersion: Promise<string> | null = null;
  #closed = false;
  readonly #streams = new Set<EventStream>();

  constructor(options: EngineOptions = {}) {
    this.socketPath = options.url !== undefined ? '' : (options.socketPath ?? DEFAULT_SOCKET_PATH);
    this.#origin = options.url ?? 'http://localhost';
    this.address = this.socketPath || this.#origin;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#pool = new (undici().Pool)(this.#origin, { ...this.#socketOption(), connections: 8 });
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env, timeoutMs?: number): DockerEngine {
    return new DockerEngine({ ...endpointFromEnv(env), timeoutMs });
  }

  // Resolves when a daemon answers /_ping; rejects with the cause otherwise
  // (its `cause.code` tells EACCES from ENOENT), for a start-up diagnosis.
  async reach(timeoutMs = this.timeoutMs): Promise<void> {
    const res = await this.#call('GET', '/_ping', timeoutMs);
    if (res.status !== 200) throw new EngineError(`Docker Engine answered ${res.status} to GET /_ping`, res.status);
  }

  // GET /_ping: true when a daemon answers. Never throws.
  async ping(timeoutMs = this.timeoutMs): Promise<boolean> {
    try {
      const res = await this.#call('GET', '/_ping', timeoutMs);
      return res.status === 200;
    } catch {
      return false;
    }
  }

  // The API version every call uses: the daemon's own ApiVersion. We do not
  // pin an older one: Docker 29 refuses versions below 1.44, and the few
  // endpoints we use have not changed shape since 1.24.
  apiVersion(): Promise<string> {
    if (this.#apiVersion === null) {
      const pending = this.#call('GET', '/version', this.timeoutMs).then((res) => {
        const version = res.status === 200 ? (res.body as { ApiVersion?: unknown } | null)?.ApiVersion : undefined;
        return typeof version === 'string' && /^\d+\.\d+$/.test(version) ? version : FALLBACK_API_VERSION;
      });
      // A daemon that was not up yet must be asked again next time.
      pending.catch(() => {
        if (this.#apiVersion === pending) this.#apiVersion = null;
      });
      this.#apiVersion = pending;
    }
    return this.#apiVersion;
  }

  async inspectContainer(idOrName: string): Promise<ContainerInfo | null> {
    const res = await this.#versioned('GET', `/containers/${encodeURIComponent(idOrName)}/json`);
    if (res.status === 404) return null;
    expectStatus(res, [200]);
    return fromInspect(res.body as InspectBody);
  }

  // 304 means it was already running: fine for us.
  async startContainer(id: string): Promise<void> {
    expectStatus(await this.#versioned('POST', `/containers/${encodeURIComponent(id)}/start`), [204, 304]);
  }

  async unpauseContainer(id: string): Promise<void> {
    expectStatus(await this.#versioned('POST', `/containers/${encodeURIComponent(id)}/unpause`), [204]);
  }

  // Answers once the container has stopped (SIGKILL after timeoutSeconds), so
  // our deadline is that plus the call timeout. 304: already stopped.
  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    const seconds = Math.max(0, Math.ceil(timeoutSeconds));
    const res = await this.#versioned(
      'POST',
      `/containers/${encodeURIComponent(id)}/stop?t=${seconds}`,
      seconds * 1000 + this.timeoutMs,
    );
    expectStatus(res, [204, 304]);
  }

  // The memory a container uses now, as `docker stats` counts it: usage less
  // the inactive file cache (reclaimable pages). null for a container that
  // is not running (the Engine then reports no memory) or does not exist.
  async containerMemoryBytes(id: string): Promise<number | null> {
    // one-shot: one sample at once, rather than two a second apart (API 1.41).
    const res = await this.#versioned('GET', `/containers/${encodeURIComponent(id)}/stats?stream=false&one-shot=true`);
    if (res.status === 404) return null;
    expectStatus(res, [200]);
    return memoryInUse((res.body as StatsBody | null)?.memory_stats);
  }

  async listContainers(options: ListOptions = {}): Promise<ContainerInfo[]> {
    const query = new URLSearchParams();
    if (options.all) query.set('all', 'true');
    const labels = Object.entries(options.labels ?? {}).map(([k, v]) => `${k}=${v}`);
    if (labels.length > 0) query.set('filters', JSON.stringify({ label: labels }));
    const res = await this.#versioned('GET', `/containers/json?${query}`);
    expectStatus(res, [200]);
    return (res.body as ListBody[]).map(fromList);
  }

  // Streams /events (one JSON object per line) until close(). Filters use the
  // Engine's names: { type: ['container'], container: [id], event: ['start'] }.
  // onEnd is called once if the stream stops for any reason other than close()
  // (daemon restart, socket gone): the caller decides whether to reconnect.
  // No timeout applies once the stream is open: quiet hours are normal.
  events(
    filters: Record<string, string[]>,
    onEvent: (event: EngineEvent) => void,
    onEnd?: (error: Error) => void,
  ): EventStream {
    const client = new (undici().Client)(this.#origin, { ...this.#socketOption(), bodyTimeout: 0 });
    const abort = new AbortController();
    let closed = false;
    let resolveReady!: () => void;
    let rejectReady!: (e: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    ready.catch(() => {}); // callers may ignore `ready`; onEnd reports the failure too
    const stream: EventStream = {
      ready,
      close: () => {
        if (closed) return;
        closed = true;
        this.#streams.delete(stream);
        abort.abort();
        client.destroy().catch(() => {});
      },
    };
    this.#streams.add(stream);

    const end = (error: Error) => {
      rejectReady(error);
      if (closed) return;
      stream.close();
      onEnd?.(error);
    };

    const run = async () => {
      const version = await this.apiVersion();
      const query = new URLSearchParams({ filters: JSON.stringify(filters) });
      const path = `/v${version}/events?${query}`;
      const res = await client.request({
        method: 'GET',
        path,
        signal: abort.signal,
        headersTimeout: this.timeoutMs,
        bodyTimeout: 0,
      });
      if (res.statusCode !== 200) {
        const text = await res.body.text();
        throw new EngineError(engineMessage(text, res.statusCode, 'GET', path), res.statusCode);
      }
      resolveReady();
      let buffered = '';
      res.body.setEncoding('utf8');
      for await (const chunk of res.body as AsyncIterable<string>) {
        buffered += chunk;
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line === '' || closed) continue;
          onEvent(fromEvent(JSON.parse(line) as EventBody));
        }
      }
      throw new Error('Docker Engine closed the event stream');
    };
    run().catch((error: unknown) => end(asError(error)));
    return stream;
  }

  // Closes event streams and connections (containers are left alone).
  async close(): Promise<void> {
    for (const stream of [...this.#streams]) stream.close();
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.close();
  }

  // Private

  #socketOption(): { socketPath?: string } {
    return this.socketPath === '' ? {} : { socketPath: this.socketPath };
  }

  async #versioned(method: Method, path: string, timeoutMs = this.timeoutMs): Promise<Reply> {
    return this.#call(method, `/v${await this.apiVersion()}${path}`, timeoutMs);
  }

  async #call(method: Method, path: string, timeoutMs: number): Promise<Reply> {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const res = await this.#pool.request({ method, path, signal });
      const text = await res.body.text();
      let body: unknown = null;
      if (text !== '') {
        try {
          body = JSON.parse(text);
        } catch {
          body = text; // /_ping answers plain text
        }
      }
      return { status: res.statusCode, body, method, path };
    } catch (error) {
      if (signal.aborted) {
        throw new Error(`Docker Engine did not answer ${method} ${path} within ${timeoutMs} ms`);
      }
      const e = asError(error);
      throw new Error(`Docker Engine at ${this.address}: ${e.message}`, { cause: e });
    }
  }
}

interface Reply {
  status: number;
  body: unknown;
  method: Method;
  path: string;
}

interface InspectBody {
  Id: string;
  Name: string;
  Created: string;
  State: { Status: string };
  Config: { Labels: Record<string, string> | null };
}

interface ListBody {
  Id: string;
  Names: string[] | null;
  Created: number;
  State: string;
  Labels: Record<string, string> | null;
}

interface StatsBody {
  memory_stats?: { usage?: number; stats?: Record<string, number> };
}

interface EventBody {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  timeNano?: number;
}

function expectStatus(res: Reply, ok: number[]): void {
  if (ok.includes(res.status)) return;
  const text = typeof res.body === 'string' ? res.body : JSON.stringify(res.body);
  throw new EngineError(engineMessage(text, res.status, res.method, res.path), res.status);
}

// The Engine reports errors as {"message": "..."}; keep its words.
function engineMessage(text: string | undefined, status: number, method: string, path: string): string {
  try {
    const message = (JSON.parse(text ?? '') as { message?: unknown }).message;
    if (typeof message === 'string' && message !== '') return message;
  } catch {}
  return `Docker Engine answered ${status} to ${method} ${path}`;
}

// The docker CLI's calculateMemUsageUnixNoCache: cgroup v1 reports
// total_inactive_file, v2 inactive_file.
function memoryInUse(memory: StatsBody['memory_stats']): number | null {
  const usage = memory?.usage;
  if (typeof usage !== 'number') return null;
  const stats = memory?.stats ?? {};
  const inactive = stats.total_inactive_file ?? stats.inactive_file;
  return typeof inactive === 'number' && inactive < usage ? usage - inactive : usage;
}

function fromInspect(body: InspectBody): ContainerInfo {
  const status = body.State.Status;
  return {
    id: body.Id,
    name: body.Name.replace(/^\//, ''),
    running: status === 'running',
    status,
    labels: body.Config.Labels ?? {},
    created: Date.parse(body.Created),
  };
}

function fromList(body: ListBody): ContainerInfo {
  // Legacy links add names like "/other/alias"; the container's own has one slash.
  const names = body.Names ?? [];
  const own = names.find((n) => n.lastIndexOf('/') === 0) ?? names[0] ?? '';
  return {
    id: body.Id,
    name: own.replace(/^\//, ''),
    running: body.State === 'running',
    status: body.State,
    labels: body.Labels ?? {},
    created: body.Created * 1000,
  };
}

function fromEvent(body: EventBody): EngineEvent {
  return {
    type: body.Type ?? '',
    action: body.Action ?? '',
    id: body.Actor?.ID ?? '',
    attributes: body.Actor?.Attributes ?? {},
    timeNano: body.timeNano ?? 0,
  };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
