// Upgrade handshakes and redirected health checks go through undici (and so do
// proxied requests and every health check when undici is the upstream client:
// src/upstream/client-choice.ts),
// whose parser refuses a response with bare-LF line endings; our own client
// accepts them (src/upstream/http-parser.ts, RESPONSE_LENIENT_FLAGS), as Go's
// proxy and nginx do. A deploy must not fail a health check on responses the
// proxy would serve. undici has no option for it, but its llhttp
// (WebAssembly) has the same flag as Node's: this sets it on each new
// connection's parser. undici announces the connection ('connect') after
// making its parser and before writing the first request, and llhttp keeps
// the flag across the connection's responses.
import { createRequire } from 'node:module';
import type { Dispatcher } from 'undici';

// undici's own symbols for a client's socket and a socket's parser, loaded
// with the first dispatcher (undici stays unloaded until something needs it).
let symbols: { kSocket: symbol; kParser: symbol } | null = null;

export function acceptBareLf<D extends Dispatcher>(dispatcher: D): D {
  symbols ??= createRequire(import.meta.url)('undici/lib/core/symbols.js') as { kSocket: symbol; kParser: symbol };
  const { kSocket, kParser } = symbols;
  // targets: the dispatcher chain down to the Client that connected, last.
  dispatcher.on('connect', (_origin, targets) => {
    const client = targets[targets.length - 1];
    const socket: unknown = client === undefined ? undefined : Reflect.get(client, kSocket);
    const parser: unknown = typeof socket === 'object' && socket !== null ? Reflect.get(socket, kParser) : undefined;
    setLenient(parser);
  });
  return dispatcher;
}

// A parser of another shape (a future undici) stays strict; the bare-LF
// health-check and upgrade tests say so.
function setLenient(parser: unknown): void {
  if (typeof parser !== 'object' || parser === null) return;
  const ptr: unknown = Reflect.get(parser, 'ptr');
  const llhttp: unknown = Reflect.get(parser, 'llhttp');
  if (typeof ptr !== 'number' || ptr === 0 || typeof llhttp !== 'object' || llhttp === null) return;
  const setFlag: unknown = Reflect.get(llhttp, 'llhttp_set_lenient_optional_cr_before_lf');
  if (typeof setFlag === 'function') setFlag(ptr, 1);
}
