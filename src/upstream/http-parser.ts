// Node's own HTTP/1.1 parser (llhttp, in C++), the one node:http runs on.
// It is reachable only through the `_http_common` module, which has no types
// (node-internals.ts loads and checks it). Compared with undici's WebAssembly
// llhttp it parses without crossing into JavaScript for every header field
// and value, and hands over body pieces as Buffers of their own (copies, so a
// kept piece pins no larger read buffer).
import { internals, type NativeParser } from './node-internals.ts';

export type { NativeParser };

export const Parser = internals.Parser;

// Apps' responses may end their status and header lines in a bare LF, as
// Go's proxy (kamal-proxy) and nginx accept; clients' requests get no such
// leniency. Only this flag: it leaves a bare LF after a chunk size refused,
// as Go refuses it (llhttp would take that only with bare CRs allowed too).
export const RESPONSE_LENIENT_FLAGS = Parser.kLenientOptionalCRBeforeLF;

// Request methods by the number the parser reports them with.
export const METHODS: readonly string[] = internals.methods;

// Returned from the headers-complete callback: the response has no body
// (the answer to HEAD, or an interim 1xx), whatever its headers say.
export const SKIP_BODY = 1;
