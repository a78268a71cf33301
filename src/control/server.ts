// The control socket: the running proxy's end of the CLI protocol. Each
// method is one line into the router. The socket is created private to its
// owner (kamal-proxy leaves it to the umask), and never taken from a live
// proxy (socket-claim.ts).
import { fs } from '../util/node-fs.ts';
import net from 'node:net';
import { log } from '../log/logger.ts';
import type { Router } from '../router/router.ts';
import { listenUnix } from '../util/listen.ts';
import type { ControlReply, ControlRequest, Methods } from './protocol.ts';
import { claimSocketPath } from './socket-claim.ts';

const { chmodSync, rmSync } = fs;

type Handlers = { [M in keyof Methods]: (params: Methods[M]['params']) => Promise<Methods[M]['result']> };

const MAX_REQUEST_BYTES = 1_048_576;

export class ControlServer {
  readonly #path: string;
  readonly #handlers: Handlers;
  #server: net.Server | null = null;

  constructor(path: string, router: Router) {
    this.#path = path;
    this.#handlers = {
      deploy: async (p) => (await router.deploy(p), null),
      remove: async (p) => (await router.remove(p.service), null),
      pause: async (p) => (await router.pause(p.service, p.drainTimeoutMs, p.maxPauseMs), null),
      stop: async (p) => (await router.stop(p.service, p.drainTimeoutMs, p.message), null),
      resume: async (p) => (await router.resume(p.service), null),
      rolloutDeploy: async (p) => (await router.rolloutDeploy(p), null),
      rolloutSet: async (p) => (await router.rolloutSet(p.service, p.percentage, p.allowlist), null),
      rolloutStop: async (p) => (await router.rolloutStop(p.service), null),
      list: async () => router.list(),
      napStatus: async () => ({ services: router.napStatus(), unsavedState: router.unsavedState() }),
      napWake: async (p) => (await router.napWake(p.service), null),
      napNap: async (p) => (await router.napNap(p.service), null),
      napStopAll: async () => router.napStopAll(),
    };
  }

  async start(): Promise<void> {
    // Again, though `run` claimed the path before its ports: another proxy
    // may have started meanwhile.
    await claimSocketPath(this.#path);
    const server = net.createServer((socket) => this.#serve(socket));
    const oldMask = process.umask(0o177);
    try {
      await listenUnix(server, this.#path);
    } finally {
      process.umask(oldMask);
    }
    chmodSync(this.#path, 0o600);
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (server === null) return;
    this.#server = null;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.#path, { force: true });
  }

  #serve(socket: net.Socket): void {
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_REQUEST_BYTES) return socket.destroy();
      const nl = buffered.indexOf('\n');
      if (nl === -1) return;
      socket.pause();
      void this.#dispatch(buffered.slice(0, nl)).then((reply) => socket.end(JSON.stringify(reply) + '\n'));
    });
  }

  async #dispatch(line: string): Promise<ControlReply> {
    let request: ControlRequest;
    try {
      request = JSON.parse(line) as ControlRequest;
    } catch {
      return { ok: false, error: 'malformed control request' };
    }
    const handler = this.#handlers[request.method] as ((p: unknown) => Promise<unknown>) | undefined;
    if (handler === undefined) return { ok: false, error: `unknown command: ${String(request.method)}` };
    try {
      return { ok: true, result: (await handler(request.params)) as never };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log.debug('Command failed', { method: request.method, error: message });
      return { ok: false, error: message };
    }
  }
}
