// The parts of undici the proxy uses (Pool, Client, Agent, their request()
// method, the redirect interceptor), loaded file by file. undici's index also
// loads fetch, WebSocket, EventSource, the HTTP cache with node:sqlite and the
// mocks, none of which we use: 12 MB of RSS in every proxy process
// (bench/README.md, "Memory"). The files are undici's own; the types are its
// public ones.
import { createRequire } from 'node:module';
import type * as Undici from 'undici';

const require = createRequire(import.meta.url);
const lib = (file: string): unknown => require(`undici/lib/${file}`);

// undici's index adds request(), stream()... to every dispatcher the same way.
Object.assign((lib('dispatcher/dispatcher.js') as { prototype: object }).prototype, lib('api/index.js'));

export const Pool = lib('dispatcher/pool.js') as typeof Undici.Pool;
export const Client = lib('dispatcher/client.js') as typeof Undici.Client;
export const Agent = lib('dispatcher/agent.js') as typeof Undici.Agent;
export const redirectInterceptor = lib('interceptor/redirect.js') as typeof Undici.interceptors.redirect;
export type Pool = Undici.Pool;
export type Client = Undici.Client;
export type Agent = Undici.Agent;
