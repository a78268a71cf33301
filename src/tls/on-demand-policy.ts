// On-demand TLS (--tls-on-demand-url): before a certificate is ordered for a
// server name no service lists, ask the URL, as kamal-proxy does:
//   GET <url>?host=<name>, the URL's own query parameters kept; only a 200
//   approves; 2 s to answer; redirects are answers, not followed; a denial
//   logs and reports up to 256 bytes of the body.
// An absolute http(s) URL is called directly; a path goes through the
// service to its own app (a LocalCheck the router supplies: tls/ knows no
// services). Names with a cached certificate were approved when it was
// issued and are not asked about again.
// Loaded with the first check, not at start.
import type { ClientRequest, IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { log as defaultLog, type Logger } from '../log/logger.ts';
import { goQuoteBytes } from '../util/go-quote.ts';
import { nodeHttps } from './lazy-tls.ts';

const require = createRequire(import.meta.url);

export const ON_DEMAND_CHECK_TIMEOUT_MS = 2_000;
export const ON_DEMAND_BODY_LIMIT_BYTES = 256;
// Checks in flight at once, over all services. A flood of handshakes with
// made-up names must not pile up calls to the URL: past this, a name is
// refused at once (its client can retry) instead of waiting in a queue.
export const ON_DEMAND_MAX_IN_FLIGHT = 32;

export interface OnDemandAnswer {
  status: number;
  body: Buffer; // at most the limit asked for
}

// The local form: GET `pathAndQuery` through the service, Host set to the
// name being checked; rejects when `signal` aborts first.
export type LocalCheck = (pathAndQuery: string, signal: AbortSignal, maxBodyBytes: number) => Promise<OnDemandAnswer>;

export interface CertificateCache {
  hasCertificate(domain: string): Promise<boolean>;
}

export interface OnDemandPolicyOptions {
  timeoutMs?: number;
  maxInFlight?: number;
  logger?: Pick<Logger, 'warn'>;
}

// kamal-proxy's error for a denial, Go's %q quoting of the body included.
export class OnDemandDeniedError extends Error {
  readonly host: string;
  readonly status: number;
  readonly body: Buffer;

  constructor(host: string, status: number, body: Buffer) {
    super(`${host} is not allowed to get a certificate (status: ${status}, body: ${goQuoteBytes(body)})`);
    this.host = host;
    this.status = status;
    this.body = body;
  }
}

export class OnDemandPolicy {
  readonly #timeoutMs: number;
  readonly #maxInFlight: number;
  readonly #log: Pick<Logger, 'warn'>;
  #inFlight = 0;

  constructor(opts: OnDemandPolicyOptions = {}) {
    this.#timeoutMs = opts.timeoutMs ?? ON_DEMAND_CHECK_TIMEOUT_MS;
    this.#maxInFlight = opts.maxInFlight ?? ON_DEMAND_MAX_IN_FLIGHT;
    this.#log = opts.logger ?? defaultLog;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  // Resolves if `host` may have a certificate ordered; rejects with the
  // reason otherwise (an OnDemandDeniedError for an answer other than 200).
  // One check per name at a time is the caller's (AcmeManager's) to ensure.
  async approve(url: string, host: string, cache: CertificateCache, local: LocalCheck | null): Promise<void> {
    if (await cache.hasCertificate(host)) return;
    if (this.#inFlight >= this.#maxInFlight) {
      throw new Error(`TLS on-demand check for ${host} refused: ${this.#maxInFlight} checks already in flight`);
    }
    this.#inFlight++;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error('context deadline exceeded')), this.#timeoutMs);
    try {
      const checkUrl = onDemandCheckUrl(url, host);
      let answer: OnDemandAnswer;
      try {
        if (!url.startsWith('/')) answer = await fetchOnDemandAnswer(checkUrl, controller.signal);
        else if (local !== null) answer = await local(checkUrl, controller.signal, ON_DEMAND_BODY_LIMIT_BYTES);
        else throw new Error('no service to ask');
      } catch (err) {
        this.#log.warn('TLS on-demand check failed', { host, url: checkUrl, error: (err as Error).message });
        throw err;
      }
      if (answer.status !== 200) {
        const body = answer.body.subarray(0, ON_DEMAND_BODY_LIMIT_BYTES);
        this.#log.warn('TLS on-demand check denied host', { host, status: answer.status, body: body.toString('utf8') });
        throw new OnDemandDeniedError(host, answer.status, body);
      }
    } finally {
      clearTimeout(timer);
      this.#inFlight--;
    }
  }
}

// `<url>?host=<name>` as Go builds it (url.Values: existing parameters
// parsed, host set, all encoded with QueryEscape, keys sorted).
export function onDemandCheckUrl(url: string, host: string): string {
  let base = url;
  let fragment = '';
  // Go parses a path with url.Parse (fragment split off and put back) and an
  // absolute URL with url.ParseRequestURI (no fragment: '#' is data).
  if (url.startsWith('/')) {
    const hash = base.indexOf('#');
    if (hash !== -1) {
      fragment = base.slice(hash);
      base = base.slice(0, hash);
    }
  }
  const q = base.indexOf('?');
  const rawQuery = q === -1 ? '' : base.slice(q + 1);
  if (q !== -1) base = base.slice(0, q);

  // Keys and values as byte strings (one char per byte), as Go's are bytes.
  const params = new Map<string, string[]>();
  for (const pair of binary(rawQuery).split('&')) {
    if (pair === '' || pair.includes(';')) continue;
    const eq = pair.indexOf('=');
    const key = queryUnescape(eq === -1 ? pair : pair.slice(0, eq));
    const value = queryUnescape(eq === -1 ? '' : pair.slice(eq + 1));
    if (key === null || value === null) continue;
    const values = params.get(key);
    if (values) values.push(value);
    else params.set(key, [value]);
  }
  params.set('host', [binary(host)]);
  const keys = [...params.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const query = keys.flatMap((k) => params.get(k)!.map((v) => `${queryEscape(k)}=${queryEscape(v)}`)).join('&');
  return `${base}?${query}${fragment}`;
}

// The external form: a plain GET, no redirects followed, only as much of a
// denial's body as is reported. An abort before the answer's head rejects;
// one while a denial's body arrives keeps what came, as Go's client does.
export function fetchOnDemandAnswer(url: string, signal: AbortSignal): Promise<OnDemandAnswer> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return reject(new Error(`Get "${url}": invalid URL`));
    }
    const client: { get(u: URL, o: object, cb: (res: IncomingMessage) => void): ClientRequest } =
      target.protocol === 'https:' ? nodeHttps() : (require('node:http') as typeof import('node:http'));
    let settled = false;
    let answered = false; // from then on the response's own events settle it
    const fail = (err: Error) => {
      if (settled || answered) return;
      settled = true;
      reject(new Error(`Get "${url}": ${signal.aborted ? abortMessage(signal) : err.message}`));
    };
    // A connection of its own, closed after the answer: checks are rare.
    const req = client.get(target, { agent: false, signal }, (res) => {
      answered = true;
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => {
        if (settled) return;
        settled = true;
        resolve({ status, body: Buffer.concat(chunks, size) });
        res.destroy();
      };
      if (status === 200) return done();
      res.on('data', (chunk: Buffer) => {
        const part = chunk.subarray(0, ON_DEMAND_BODY_LIMIT_BYTES - size);
        chunks.push(part);
        size += part.length;
        if (size >= ON_DEMAND_BODY_LIMIT_BYTES) done();
      });
      res.on('end', done);
      res.on('error', done);
      res.on('close', done);
    });
    req.on('error', fail);
  });
}

function abortMessage(signal: AbortSignal): string {
  const reason = signal.reason as Error | undefined;
  return reason?.message === 'context deadline exceeded'
    ? 'context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
    : (reason?.message ?? 'aborted');
}

function binary(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

// Go's url.QueryUnescape over a byte string; null where Go reports an error.
function queryUnescape(s: string): string | null {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '+') out += ' ';
    else if (ch !== '%') out += ch;
    else {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return null;
      out += String.fromCharCode(parseInt(hex, 16));
      i += 2;
    }
  }
  return out;
}

// Go's url.QueryEscape over a byte string.
function queryEscape(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const unreserved = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;
    if (unreserved) out += s[i];
    else if (c === 0x20) out += '+';
    else out += `%${c.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
