// What a target needs of the client that carries its proxied requests. Two
// implement it: our own HTTP/1.1 pool on Node's native parser (http1-pool.ts),
// and undici's Pool (undici-client.ts) for when Node's internals are not
// usable; client-choice.ts picks one per process. Either way the request goes
// in as a flat raw header list, and the handler hears back through undici's
// dispatch-handler callbacks (exchange.ts): lower-cased response headers,
// 1xx consumed, every outcome through its callbacks (expected failures carry
// a code that statusForError maps: errors.ts).
import type { UpstreamHandler, UpstreamRequest } from './exchange.ts';

export interface UpstreamClient {
  // headersTimeoutMs: the wait for the response head (and, before the
  // request goes out, for a connection); 0 or Infinity: no limit to the first.
  dispatch(request: UpstreamRequest, handler: UpstreamHandler, headersTimeoutMs: number): void;
  // Requests waiting for a connection fail; idle connections close now, busy
  // ones once their exchange is over; later requests fail.
  close(): void;
  readonly openConnections: number;
}
