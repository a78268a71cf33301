// Node's own HTTP/1.1 parser (llhttp, in C++), the one node:http runs on.
// It is reachable only through the `_http_common` module, which has no types;
// these are the parts we call, as Node 24's lib/_http_common.js and
// src/node_http_parser.cc define them. Compared with undici's WebAssembly
// llhttp it parses without crossing into JavaScript for every header field
// and value, and hands over body pieces as Buffers of their own (copies, so a
// kept piece pins no larger read buffer).
import { createRequire } from 'node:module';

export interface NativeParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenientFlags: number): void;
  // Bytes consumed, or an Error whose code is the llhttp error name (HPE_*).
  execute(data: Buffer): number | Error;
  // At end of input: completes a body that runs until close, or an Error.
  finish(): number | Error | undefined;
  close(): void;
  [callback: number]: unknown;
}

interface NativeParserClass {
  new (): NativeParser;
  readonly REQUEST: number;
  readonly RESPONSE: number;
  readonly kOnHeaders: number;
  readonly kOnHeadersComplete: number;
  readonly kOnBody: number;
  readonly kOnMessageComplete: number;
  readonly kLenientNone: number;
  readonly kLenientOptionalCRBeforeLF: number;
}

const { HTTPParser, methods } = createRequire(import.meta.url)('_http_common') as { HTTPParser: NativeParserClass; methods: string[] };

export const Parser = HTTPParser;

// Apps' responses may end their status and header lines in a bare LF, as
// Go's proxy (kamal-proxy) and nginx accept; clients' requests get no such
// leniency. Only this flag: it leaves a bare LF after a chunk size refused,
// as Go refuses it (llhttp would take that only with bare CRs allowed too).
export const RESPONSE_LENIENT_FLAGS = HTTPParser.kLenientOptionalCRBeforeLF;

// Request methods by the number the parser reports them with.
export const METHODS: readonly string[] = methods;

// Returned from the headers-complete callback: the response has no body
// (the answer to HEAD, or an interim 1xx), whatever its headers say.
export const SKIP_BODY = 1;
