// A fake Docker Engine: a node:http server on a unix socket in a temp dir,
// holding an in-memory container table. It answers the endpoints
// src/docker/engine.ts uses, with the status codes, bodies and events a real
// Engine (checked against Docker 20.10) gives, so the same contract suite
// passes against both. Tests also drive it from "outside" (a crash, someone
// else's `docker stop`, a removal) and can hook into each action.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type FakeStatus = 'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'dead';

export interface FakeContainer {
  id: string;
  name: string;
  status: FakeStatus;
  labels: Record<string, string>;
  created: number; // ms since the epoch
  // What /stats reports while it runs: memory_stats.usage, and the inactive
  // file cache in it (which `docker stats` leaves out).
  memoryUsage: number;
  inactiveFile: number;
}

export type FakeAction = 'start' | 'stop' | 'unpause';

// Thrown from an onAction hook to make the Engine answer with an error.
export class FakeFailure extends Error {
  readonly statusCode: number;
  constructor(statusCode: number, message: string) {
    super(message);
    this.statusCode = statusCode;
  }
}

interface Subscriber {
  filters: Record<string, string[]>;
  res: http.ServerResponse;
}

export class FakeEngine {
  readonly socketPath: string;
  // What /version answers; null leaves ApiVersion out (an old or odd daemon).
  apiVersion: string | null = '1.41';
  // The cgroup version /stats reports memory for: v1 names the inactive
  // file cache total_inactive_file, v2 inactive_file.
  cgroupVersion: 1 | 2 = 2;
  // Every request, as "METHOD /path?query" with the path as sent (version prefix included).
  readonly requests: string[] = [];
  // Runs before start/stop/unpause changes anything; may wait, or throw a FakeFailure.
  onAction: ((action: FakeAction, container: FakeContainer) => void | Promise<void>) | null = null;
  readonly #containers = new Map<string, FakeContainer>();
  readonly #subscribers = new Set<Subscriber>();
  readonly #server: http.Server;
  readonly #dir: string;

  private constructor(dir: string, server: http.Server) {
    this.#dir = dir;
    this.socketPath = join(dir, 'docker.sock');
    this.#server = server;
  }

  static async start(): Promise<FakeEngine> {
    const dir = await mkdtemp(join(tmpdir(), 'fake-docker-'));
    const server = http.createServer();
    const engine = new FakeEngine(dir, server);
    server.on('request', (req, res) => {
      engine.#handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) json(res, 500, { message: String(error) });
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(engine.socketPath, resolve);
    });
    return engine;
  }

  // Test-side API: what `docker create` / `docker start` by someone else would do.

  add(options: { name: string; labels?: Record<string, string>; status?: FakeStatus; created?: number }): FakeContainer {
    if (this.find(options.name)) throw new Error(`fake engine: name ${options.name} is taken`);
    const container: FakeContainer = {
      id: randomBytes(32).toString('hex'),
      name: options.name,
      status: options.status ?? 'created',
      labels: { ...options.labels },
      created: options.created ?? Date.now(),
      memoryUsage: 48 * 1024 * 1024,
      inactiveFile: 4 * 1024 * 1024,
    };
    this.#containers.set(container.id, container);
    this.#emit(container, 'create');
    return container;
  }

  // Docker's lookup order: full id, exact name, then a unique id prefix.
  find(idOrName: string): FakeContainer | undefined {
    const ref = idOrName.replace(/^\//, '');
    const byId = this.#containers.get(ref);
    if (byId) return byId;
    const all = [...this.#containers.values()];
    const byName = all.find((c) => c.name === ref);
    if (byName) return byName;
    const byPrefix = all.filter((c) => c.id.startsWith(ref));
    return ref !== '' && byPrefix.length === 1 ? byPrefix[0] : undefined;
  }

  get(idOrName: string): FakeContainer {
    const c = this.find(idOrName);
    if (!c) throw new Error(`fake engine: no container ${idOrName}`);
    return c;
  }

  // Changes a container's state the way it would happen outside our client
  // (a crash, `docker start` or `docker pause` by hand), with the same events.
  setStatus(idOrName: string, status: FakeStatus): void {
    const c = this.get(idOrName);
    const before = c.status;
    c.status = status;
    if (status === 'running' && before === 'paused') this.#emit(c, 'unpause');
    else if (status === 'running') this.#emit(c, 'start');
    else if (status === 'paused') this.#emit(c, 'pause');
    else if ((status === 'exited' || status === 'dead') && (before === 'running' || before === 'paused')) {
      this.#emit(c, 'die', { exitCode: '1' });
    }
  }

  remove(idOrName: string): void {
    const c = this.get(idOrName);
    if (c.status === 'running') this.setStatus(c.id, 'exited');
    this.#containers.delete(c.id);
    this.#emit(c, 'destroy');
  }

  // Ends every open /events response, as a daemon restart would.
  dropEventStreams(): void {
    for (const s of this.#subscribers) s.res.destroy();
    this.#subscribers.clear();
  }

  get eventStreamCount(): number {
    return this.#subscribers.size;
  }

  async close(): Promise<void> {
    this.dropEventStreams();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    await rm(this.#dir, { recursive: true, force: true });
  }

  // Private

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    this.requests.push(`${method} ${req.url}`);
    req.resume();
    const url = new URL(req.url ?? '/', 'http://localhost');
    let path = url.pathname;
    const versioned = /^\/v(\d+\.\d+)(\/.*)$/.exec(path);
    if (versioned) {
      const max = this.apiVersion ?? '1.41';
      if (compareVersions(versioned[1]!, max) > 0) {
        return json(res, 400, {
          message: `client version ${versioned[1]} is too new. Maximum supported API version is ${max}`,
        });
      }
      path = versioned[2]!;
    }

    if (method === 'GET' && path === '/_ping') return text(res, 200, 'OK');
    if (method === 'GET' && path === '/version') {
      return json(res, 200, {
        Version: 'fake',
        ...(this.apiVersion === null ? {} : { ApiVersion: this.apiVersion }),
        MinAPIVersion: '1.12',
        Os: 'linux',
      });
    }
    if (method === 'GET' && path === '/containers/json') return this.#list(url, res);
    if (method === 'GET' && path === '/events') return this.#events(url, res);

    const m = /^\/containers\/([^/]+)\/(json|start|stop|unpause|stats)$/.exec(path);
    if (!m) return json(res, 404, { message: 'page not found' });
    const ref = decodeURIComponent(m[1]!);
    const op = m[2]!;
    const c = this.find(ref);
    if (!c) return json(res, 404, { message: `No such container: ${ref}` });
    if (method === 'GET' && op === 'json') return json(res, 200, inspectBody(c));
    if (method === 'GET' && op === 'stats') return json(res, 200, statsBody(c, this.cgroupVersion));
    if (method !== 'POST') return json(res, 404, { message: 'page not found' });

    try {
      await this.onAction?.(op as FakeAction, c);
    } catch (error) {
      if (error instanceof FakeFailure) return json(res, error.statusCode, { message: error.message });
      throw error;
    }
    if (op === 'start') {
      if (c.status === 'running' || c.status === 'restarting') return empty(res, 304);
      if (c.status === 'paused') {
        return json(res, 409, { message: 'cannot start a paused container, try unpause instead' });
      }
      c.status = 'running';
      this.#emit(c, 'start');
      return empty(res, 204);
    }
    if (op === 'stop') {
      if (c.status !== 'running' && c.status !== 'paused' && c.status !== 'restarting') return empty(res, 304);
      c.status = 'exited';
      this.#emit(c, 'kill', { signal: '15' });
      this.#emit(c, 'die', { exitCode: '0' });
      this.#emit(c, 'stop');
      return empty(res, 204);
    }
    // unpause
    if (c.status !== 'paused') return json(res, 409, { message: `Container ${c.id} is not paused` });
    c.status = 'running';
    this.#emit(c, 'unpause');
    return empty(res, 204);
  }

  #list(url: URL, res: http.ServerResponse): void {
    const all = url.searchParams.get('all');
    const includeStopped = all === '1' || all === 'true';
    const filters = parseFilters(url.searchParams.get('filters'));
    const rows = [...this.#containers.values()]
      .filter((c) => includeStopped || c.status === 'running')
      .filter((c) => matchLabels(c.labels, filters.label ?? []))
      .sort((a, b) => b.created - a.created) // Docker lists newest first
      .map(listBody);
    json(res, 200, rows);
  }

  #events(url: URL, res: http.ServerResponse): void {
    const subscriber = { filters: parseFilters(url.searchParams.get('filters')), res };
    // Like dockerd: headers go out at once, then one JSON object per line.
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    this.#subscribers.add(subscriber);
    res.on('close', () => this.#subscribers.delete(subscriber));
  }

  #emit(c: FakeContainer, action: string, extra: Record<string, string> = {}): void {
    const now = Date.now();
    const event = {
      status: action,
      id: c.id,
      from: 'kamal-napper-test:latest',
      Type: 'container',
      Action: action,
      Actor: { ID: c.id, Attributes: { ...c.labels, image: 'kamal-napper-test:latest', name: c.name, ...extra } },
      scope: 'local',
      time: Math.floor(now / 1000),
      timeNano: now * 1e6,
    };
    for (const s of this.#subscribers) {
      if (eventMatches(s.filters, c, action)) s.res.write(JSON.stringify(event) + '\n');
    }
  }
}

function inspectBody(c: FakeContainer) {
  return {
    Id: c.id,
    Name: `/${c.name}`,
    Created: new Date(c.created).toISOString(),
    State: {
      Status: c.status,
      Running: c.status === 'running' || c.status === 'paused' || c.status === 'restarting',
      Paused: c.status === 'paused',
      Restarting: c.status === 'restarting',
      Dead: c.status === 'dead',
    },
    Config: { Labels: c.labels, Image: 'kamal-napper-test:latest' },
    HostConfig: { NetworkMode: 'host' },
  };
}

// GET /containers/{id}/stats?stream=false: a container that is not running
// (created, exited) gets an empty sample, as dockerd answers.
function statsBody(c: FakeContainer, cgroupVersion: 1 | 2) {
  const base = { name: `/${c.name}`, id: c.id };
  if (c.status !== 'running' && c.status !== 'paused' && c.status !== 'restarting') {
    return { ...base, read: '0001-01-01T00:00:00Z', memory_stats: {} };
  }
  const cache = cgroupVersion === 1 ? { total_inactive_file: c.inactiveFile, total_active_file: 0, total_rss: c.memoryUsage - c.inactiveFile } : { inactive_file: c.inactiveFile, active_file: 0, anon: c.memoryUsage - c.inactiveFile };
  return { ...base, read: new Date().toISOString(), memory_stats: { usage: c.memoryUsage, stats: cache, limit: 8 * 1024 ** 3 } };
}

function listBody(c: FakeContainer) {
  return {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: 'kamal-napper-test:latest',
    Created: Math.floor(c.created / 1000),
    Labels: c.labels,
    State: c.status,
    Status: c.status === 'running' ? 'Up' : 'Exited (0)',
  };
}

// Docker accepts {"label": ["k=v"]} and the older {"label": {"k=v": true}}.
function parseFilters(raw: string | null): Record<string, string[]> {
  if (raw === null || raw === '') return {};
  const parsed = JSON.parse(raw) as Record<string, string[] | Record<string, boolean>>;
  const out: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(parsed)) out[key] = Array.isArray(value) ? value : Object.keys(value);
  return out;
}

// Docker's label match: "k" needs the label present, "k=v" needs that exact
// value ("k=" matches a label that is present and empty).
function matchLabels(labels: Record<string, string>, wanted: string[]): boolean {
  return wanted.every((w) => {
    const eq = w.indexOf('=');
    const key = eq < 0 ? w : w.slice(0, eq);
    if (!Object.hasOwn(labels, key)) return false;
    return eq < 0 || labels[key] === w.slice(eq + 1);
  });
}

// Docker's event filter: "container" matches an id or name *prefix*.
function eventMatches(filters: Record<string, string[]>, c: FakeContainer, action: string): boolean {
  const any = (key: string, test: (v: string) => boolean) => !filters[key]?.length || filters[key]!.some(test);
  return (
    any('type', (v) => v === 'container') &&
    any('event', (v) => v === action) &&
    any('container', (v) => c.id.startsWith(v) || c.name.startsWith(v)) &&
    matchLabels(c.labels, filters.label ?? [])
  );
}

function compareVersions(a: string, b: string): number {
  const [a1, a2] = a.split('.').map(Number);
  const [b1, b2] = b.split('.').map(Number);
  return a1! - b1! || a2! - b2!;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
  res.end(data);
}

function text(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function empty(res: http.ServerResponse, status: number): void {
  res.writeHead(status);
  res.end();
}
