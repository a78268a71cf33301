// The two parts of Node's internals the fast paths run on, in one place:
// - the native HTTP/1.1 parser (llhttp, in C++) and its method table, from
//   the undocumented `_http_common` module (deprecated as DEP0199);
// - IncomingMessage's private `_addHeaderLine`, node:http's rules for folding
//   a header list into an object.
// A future Node may remove or reshape either. Loading them here never throws:
// the parts we call are checked, a tiny parse is run, and `internalsProblem`
// says what is wrong (null: all usable). Then the proxy starts on undici and
// node:http instead (client-choice.ts), and `internals` holds stand-ins that
// keep the modules importing them loadable: a parser that refuses every
// message, so the fast path would hand every request to node:http anyway.
import { createRequire } from 'node:module';
import { IncomingMessage } from '../http/node-http.ts';

export interface NativeParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenientFlags: number): void;
  // Bytes consumed, or an Error whose code is the llhttp error name (HPE_*).
  execute(data: Buffer): number | Error;
  // At end of input: completes a body that runs until close, or an Error.
  finish(): number | Error | undefined;
  close(): void;
  [callback: number]: unknown;
}

// These are the parts we call, as Node 24's lib/_http_common.js and
// src/node_http_parser.cc define them.
export interface NativeParserClass {
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

export interface HeaderRules {
  joinDuplicateHeaders: boolean;
}
export type AddHeaderLine = (this: HeaderRules, field: string, value: string, dest: Record<string, string | string[]>) => void;

export interface NodeInternals {
  readonly Parser: NativeParserClass;
  readonly methods: readonly string[]; // request methods by the number the parser reports
  readonly addHeaderLine: AddHeaderLine;
}

const CONSTANTS = ['REQUEST', 'RESPONSE', 'kOnHeaders', 'kOnHeadersComplete', 'kOnBody', 'kOnMessageComplete', 'kLenientNone', 'kLenientOptionalCRBeforeLF'];
const PARSER_METHODS = ['initialize', 'execute', 'finish', 'close'];

function isParserClass(v: unknown): v is NativeParserClass {
  if (typeof v !== 'function') return false;
  const proto: unknown = v.prototype;
  return (
    CONSTANTS.every((name) => typeof Reflect.get(v, name) === 'number') &&
    typeof proto === 'object' &&
    proto !== null &&
    PARSER_METHODS.every((name) => typeof Reflect.get(proto, name) === 'function')
  );
}

function isStringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

// What we read of IncomingMessage's prototype: narrow, and checked with typeof.
interface HeaderFolder {
  readonly _addHeaderLine?: AddHeaderLine;
}

// The internals, or why they cannot be used. Takes what `_http_common` and
// IncomingMessage.prototype are, so tests can hand it other shapes.
export function probeNodeInternals(common: unknown, incomingPrototype: object): NodeInternals | string {
  if (typeof common !== 'object' || common === null) return '_http_common is missing';
  const Parser: unknown = Reflect.get(common, 'HTTPParser');
  const methods: unknown = Reflect.get(common, 'methods');
  if (!isParserClass(Parser)) return '_http_common.HTTPParser is missing or of another shape';
  if (!isStringList(methods)) return '_http_common.methods is missing or of another shape';
  const folder: HeaderFolder = incomingPrototype;
  const addHeaderLine = folder._addHeaderLine;
  if (typeof addHeaderLine !== 'function') return 'IncomingMessage.prototype._addHeaderLine is missing';
  try {
    const problem = parseResponse(Parser) ?? parseRequest(Parser, methods) ?? foldHeaders(addHeaderLine);
    return problem ?? { Parser, methods, addHeaderLine };
  } catch (err) {
    return `Node's HTTP parser failed a test parse: ${err instanceof Error ? err.message : String(err)}`;
  }
}

// A response as the upstream client reads them: lenient about a bare LF.
function parseResponse(Parser: NativeParserClass): string | null {
  const parser = new Parser();
  let status = 0;
  let headers: unknown = null;
  let body = '';
  let complete = false;
  parser.initialize(Parser.RESPONSE, {}, 1024, Parser.kLenientOptionalCRBeforeLF);
  parser[Parser.kOnHeaders] = () => {};
  parser[Parser.kOnHeadersComplete] = (_major: number, _minor: number, raw: unknown, _method: unknown, _url: unknown, statusCode: number) => {
    status = statusCode;
    headers = raw;
    return 0;
  };
  parser[Parser.kOnBody] = (chunk: unknown) => void (body += Buffer.isBuffer(chunk) ? chunk.toString('latin1') : '?');
  parser[Parser.kOnMessageComplete] = () => void (complete = true);
  const input = Buffer.from('HTTP/1.1 200 OK\r\nX-Probe: yes\nContent-Length: 2\r\n\r\nok');
  const r = parser.execute(input);
  parser.close();
  const rawOk = isStringList(headers) && headers.join('|') === 'X-Probe|yes|Content-Length|2';
  return r === input.length && status === 200 && rawOk && body === 'ok' && complete ? null : "Node's HTTP parser misread a test response";
}

// A request as the HTTP/1.1 fast path reads them.
function parseRequest(Parser: NativeParserClass, methods: readonly string[]): string | null {
  const parser = new Parser();
  let method = '';
  let url = '';
  let keepAlive = false;
  parser.initialize(Parser.REQUEST, {}, 1024, Parser.kLenientNone);
  parser[Parser.kOnHeaders] = () => {};
  parser[Parser.kOnHeadersComplete] = (_major: number, _minor: number, _raw: unknown, m: unknown, u: unknown, _s: unknown, _t: unknown, _up: unknown, ka: unknown) => {
    method = typeof m === 'number' ? (methods[m] ?? '') : '';
    url = typeof u === 'string' ? u : '';
    keepAlive = ka === true;
    return 0;
  };
  parser[Parser.kOnBody] = () => {};
  parser[Parser.kOnMessageComplete] = () => {};
  const input = Buffer.from('GET /probe HTTP/1.1\r\nHost: a\r\n\r\n');
  const r = parser.execute(input);
  parser.close();
  return r === input.length && method === 'GET' && url === '/probe' && keepAlive ? null : "Node's HTTP parser misread a test request";
}

function foldHeaders(addHeaderLine: AddHeaderLine): string | null {
  const rules = { joinDuplicateHeaders: false };
  const dest: Record<string, string | string[]> = {};
  for (const [name, value] of [['X-Probe', 'yes'], ['Set-Cookie', 'a=1'], ['set-cookie', 'b=2']] as const) addHeaderLine.call(rules, name, value, dest);
  const cookies = dest['set-cookie'];
  const ok = dest['x-probe'] === 'yes' && Array.isArray(cookies) && cookies.join('|') === 'a=1|b=2';
  return ok ? null : 'IncomingMessage.prototype._addHeaderLine folds headers differently';
}

// Stand-ins, for when the internals are not usable. Nothing reaches them on
// a request: the proxy does not start our client or the fast path then.
class UnavailableParser implements NativeParser {
  static readonly REQUEST = 1;
  static readonly RESPONSE = 2;
  static readonly kOnHeaders = 1;
  static readonly kOnHeadersComplete = 2;
  static readonly kOnBody = 3;
  static readonly kOnMessageComplete = 4;
  static readonly kLenientNone = 0;
  static readonly kLenientOptionalCRBeforeLF = 0;
  [callback: number]: unknown;
  initialize(): void {}
  execute(): Error {
    return new Error("Node's HTTP parser is unavailable");
  }
  finish(): undefined {
    return undefined;
  }
  close(): void {}
}

function foldPlainly(this: HeaderRules, field: string, value: string, dest: Record<string, string | string[]>): void {
  const name = field.toLowerCase();
  const seen = dest[name];
  if (seen === undefined) dest[name] = value;
  else if (typeof seen === 'string') dest[name] = [seen, value];
  else seen.push(value);
}

function loadHttpCommon(): unknown {
  try {
    return createRequire(import.meta.url)('_http_common');
  } catch {
    return null;
  }
}

const probed = probeNodeInternals(loadHttpCommon(), IncomingMessage.prototype);

// Why the internals cannot be used, or null when they can.
export const internalsProblem: string | null = typeof probed === 'string' ? probed : null;

export const internals: NodeInternals = typeof probed === 'string' ? { Parser: UnavailableParser, methods: [], addHeaderLine: foldPlainly } : probed;
