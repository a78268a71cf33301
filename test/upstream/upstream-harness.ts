// What the upstream client tests share: a handler that records what a client
// tells it, and apps on 127.0.0.1 (node:http where a well-behaved app is
// enough, raw TCP where a test needs exact bytes or misbehaviour). Everything
// opened here is closed by closeAll(), after a failed test too.
import http from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { ResponseHeaders, UpstreamController, UpstreamHandler, UpstreamRequest } from '../../src/upstream/exchange.ts';
import type { UpstreamClient } from '../../src/upstream/upstream-client.ts';

export interface Outcome {
  status: number;
  headers: ResponseHeaders;
  body: string;
  error: (Error & { code?: string }) | null;
  events: string[];
}

// Records what the client tells a handler; resolves at the end or the error.
export function collect(onStart?: (c: UpstreamController) => void): { handler: UpstreamHandler; done: Promise<Outcome> } {
  const out: Outcome = { status: 0, headers: {}, body: '', error: null, events: [] };
  let resolve!: (o: Outcome) => void;
  const done = new Promise<Outcome>((r) => (resolve = r));
  const handler: UpstreamHandler = {
    onRequestStart: () => out.events.push('start'),
    onResponseStart(c, status, headers) {
      out.events.push(`head ${status}`);
      out.status = status;
      out.headers = headers;
      onStart?.(c);
    },
    onResponseData: (_c, chunk) => void (out.body += chunk.toString('latin1')),
    onResponseEnd() {
      out.events.push('end');
      resolve(out);
    },
    onResponseError(_c, err) {
      out.events.push('error');
      out.error = err;
      resolve(out);
    },
  };
  return { handler, done };
}

export function request(path = '/', headers: string[] = ['Host', 'app.test'], body: Readable | Buffer | null = null, method = 'GET'): UpstreamRequest {
  return { path, method, headers, body };
}

export function send(client: UpstreamClient, req: UpstreamRequest, timeoutMs = 5000, onStart?: (c: UpstreamController) => void): Promise<Outcome> {
  const { handler, done } = collect(onStart);
  client.dispatch(req, handler, timeoutMs);
  return done;
}

const clients: UpstreamClient[] = [];
const servers: (Server | http.Server)[] = [];
const rawSockets = new Set<Socket>();

export function closeAll(): void {
  for (const c of clients) c.close();
  for (const s of rawSockets) s.destroy();
  for (const s of servers) {
    (s as http.Server).closeAllConnections?.();
    s.close();
  }
}

export function closeLater<C extends UpstreamClient>(client: C): C {
  clients.push(client);
  return client;
}

export async function listen<S extends Server | http.Server>(server: S, port = 0): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

// A node:http app that echoes what it received, counting connections.
export async function echoApp(): Promise<{ port: number; connections: () => number; closed: () => number }> {
  let connections = 0;
  let closed = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      res.setHeader('Set-Cookie', ['a=1', 'b=2']);
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.rawHeaders, body }));
    });
  });
  server.keepAliveTimeout = 10_000;
  server.on('connection', (s: Socket) => {
    connections++;
    s.on('close', () => closed++);
  });
  const port = await listen(server);
  return { port, connections: () => connections, closed: () => closed };
}

// A TCP server that answers each request head with `reply(n, socket, head)`,
// n counting requests on that connection from 1.
export async function rawApp(reply: (n: number, socket: Socket, head: string) => void): Promise<{ port: number; connections: () => number; requests: () => number }> {
  let connections = 0;
  let requests = 0;
  const server = createServer((socket) => {
    connections++;
    rawSockets.add(socket);
    let n = 0;
    let buffered = '';
    socket.on('error', () => {});
    socket.on('data', (d) => {
      buffered += d.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) !== -1) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        requests++;
        reply(++n, socket, head);
      }
    });
  });
  return { port: await listen(server), connections: () => connections, requests: () => requests };
}

// A TCP server whose connection callback has the socket to itself.
export async function tcpApp(onConnection: (socket: Socket) => void): Promise<number> {
  const server = createServer((socket) => {
    rawSockets.add(socket);
    socket.on('error', () => {});
    onConnection(socket);
  });
  return listen(server);
}

export const waitFor = async (check: () => boolean, ms = 2000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
