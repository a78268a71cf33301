// The parts of undici the proxy uses (Pool, Client, Agent, their request()
// method, the redirect interceptor), loaded file by file: undici's index also
// loads fetch, WebSocket, EventSource and the HTTP cache, none of which we use
// (bench/README.md, "Memory"). Loaded on first use: a proxy with no WebSocket,
// no health check answered with a redirect and no Docker napping, on our own
// upstream client (src/upstream/), never needs it.
import { createRequire } from 'node:module';
import type * as Undici from 'undici';

interface UndiciParts {
  Pool: typeof Undici.Pool;
  Client: typeof Undici.Client;
  Agent: typeof Undici.Agent;
  redirectInterceptor: typeof Undici.interceptors.redirect;
}

let parts: UndiciParts | null = null;

export function undici(): UndiciParts {
  if (parts !== null) return parts;
  const require = createRequire(import.meta.url);
  const lib = (file: string): unknown => require(`undici/lib/${file}`);
  // undici's index adds request(), stream()... to every dispatcher the same way.
  Object.assign((lib('dispatcher/dispatcher.js') as { prototype: object }).prototype, lib('api/index.js'));
  parts = {
    Pool: lib('dispatcher/pool.js') as typeof Undici.Pool,
    Client: lib('dispatcher/client.js') as typeof Undici.Client,
    Agent: lib('dispatcher/agent.js') as typeof Undici.Agent,
    redirectInterceptor: lib('interceptor/redirect.js') as typeof Undici.interceptors.redirect,
  };
  return parts;
}

export type Pool = Undici.Pool;
export type Client = Undici.Client;
export type Agent = Undici.Agent;
