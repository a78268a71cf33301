// --x-sendfile-root: an app answering `X-Sendfile: <path>` has the proxy serve
// that file (as Thruster, nginx's X-Accel-Redirect, Apache's mod_xsendfile),
// so a big download never ties up an app worker. Only files inside the
// service's roots are served (x-sendfile-path.ts); anything else is refused,
// logged, and none of the file is read. The header never reaches the
// client; the app's body is dropped.
//
// An app's 200 gets the file with Range (one range), ETag, Last-Modified and
// the preconditions of RFC 9110 §13 (x-sendfile-conditions.ts). Another
// status (`send_file path, status: 404`) is kept, with the whole file. The
// app's other headers stay, Content-Encoding included: Rails names the .gz
// of a precompressed asset with `Content-Encoding: gzip`, which describes
// the file, as nginx and Thruster assume.
//
// Without roots the filter is not in the pipeline, and X-Sendfile passes
// through untouched, as under kamal-proxy.
import type { TargetOptions } from '../config/service-options.ts';
import type { ResponseFilter, ResponseHead, ResponseSink, SinkOwner } from '../http/response-sink.ts';
import { log } from '../log/logger.ts';
import { ProxyError, XSENDFILE_FAILED, XSENDFILE_NOT_FOUND } from '../upstream/errors.ts';
import { fs } from '../util/node-fs.ts';
import { byteRange, type RangeAnswer } from './byte-range.ts';
import { evaluatePreconditions, fileValidators, ifRangeHolds } from './x-sendfile-conditions.ts';
import { resolveSendfilePath, type SendfileTarget } from './x-sendfile-path.ts';
import { rawHeader, withoutHeaders } from '../http/headers.ts';

export function xSendfile(o: TargetOptions): ResponseFilter {
  const roots = o.xSendfileRoots;
  return (next, owner) => new XSendfileResponse(next, owner, roots);
}

const CHUNK_BYTES = 64 * 1024;
const WHOLE: RangeAnswer = { kind: 'whole' };
// The app's headers that describe its own (dropped) body, not the file.
const REPLACED = new Set(['x-sendfile', 'content-length', 'content-range', 'etag', 'last-modified', 'accept-ranges']);
// A bodyless answer (304, 412, 416) carries no representation metadata.
const NO_BODY_DROPPED = new Set(['content-type', 'content-encoding']);

class XSendfileResponse implements ResponseSink {
  readonly #next: ResponseSink;
  readonly #owner: SinkOwner;
  readonly #roots: readonly string[];
  #file = false; // serving a file: the app's body is dropped
  #stopped = false; // discarded: nothing more goes to the client
  #wake: (() => void) | null = null;

  constructor(next: ResponseSink, owner: SinkOwner, roots: readonly string[]) {
    this.#next = next;
    this.#owner = owner;
    this.#roots = roots;
  }

  head(head: ResponseHead): void {
    const requested = rawHeader(head.headers, 'x-sendfile')?.trim();
    if (requested === undefined) return this.#next.head(head);
    this.#file = true;
    this.#serve(head, requested).catch((err: Error) => {
      if (!this.#stopped) this.#owner.fail(new ProxyError(XSENDFILE_FAILED, err.message));
    });
  }

  body(chunk: Buffer): boolean {
    return this.#file || this.#next.body(chunk);
  }

  onDrain(resume: () => void): void {
    if (!this.#file) this.#next.onDrain(resume);
  }

  end(last?: Buffer): void {
    if (!this.#file) this.#next.end(last);
  }

  discard(): void {
    if (this.#file) {
      this.#stopped = true;
      this.#wake?.();
    }
    this.#next.discard();
  }

  async #serve(head: ResponseHead, requested: string): Promise<void> {
    const target = await resolveSendfilePath(requested, this.#roots);
    if (this.#stopped) return;
    if (!target.ok) return this.#refuse(target, requested);
    const ctx = this.#owner.ctx;
    const req = ctx.req;
    const method = req.method ?? 'GET';
    const size = Number(target.stat.size);
    const headers = withoutHeaders(head.headers, REPLACED);
    const answer = (status: number, length: number): ResponseHead => ({ ...head, status, headers, contentLength: length });

    if (head.status !== 200 && head.status !== 206) {
      // The app's own status, with the whole file (a 204 or 304 keeps no body).
      if (head.status === 204 || head.status === 304 || head.status < 200) return this.#headOnly(answer(head.status, 0));
      headers.push('Content-Length', String(size));
      return this.#send(answer(head.status, size), target.path, 0, size, method);
    }

    const v = fileValidators(target.stat);
    headers.push('Accept-Ranges', 'bytes', 'ETag', v.etag, 'Last-Modified', v.lastModified);
    const pre = evaluatePreconditions(req.headers, method, v);
    if (pre !== 'serve') return this.#headOnly(answer(pre, 0), pre === 412);

    // Range is defined for GET only (RFC 9110 §14.2).
    const range = method === 'GET' && ifRangeHolds(req.headers, v) ? byteRange(req.headers.range, size) : WHOLE;
    if (range.kind === 'unsatisfiable') {
      headers.push('Content-Range', `bytes */${size}`);
      return this.#headOnly(answer(416, 0), true);
    }
    if (range.kind === 'part') {
      const length = range.end - range.start + 1;
      headers.push('Content-Range', `bytes ${range.start}-${range.end}/${size}`, 'Content-Length', String(length));
      return this.#send(answer(206, length), target.path, range.start, length, method);
    }
    headers.push('Content-Length', String(size));
    return this.#send(answer(200, size), target.path, 0, size, method);
  }

  #refuse(target: Extract<SendfileTarget, { ok: false }>, requested: string): void {
    const service = this.#owner.ctx.serviceName;
    if (target.reason === 'missing') return this.#owner.fail(new ProxyError(XSENDFILE_NOT_FOUND, `X-Sendfile file not found: ${requested}`));
    if (target.reason === 'outside') log.warn('X-Sendfile path outside the roots', { service, path: requested });
    else log.warn('X-Sendfile file not served', { service, path: requested, reason: target.reason, ...(target.error ? { error: target.error } : {}) });
    this.#owner.fail(new ProxyError(XSENDFILE_FAILED, `X-Sendfile refused (${target.reason}): ${requested}`));
  }

  // 304, 412, 416, or a bodyless status of the app's: no file read at all.
  #headOnly(head: ResponseHead, emptyBody = false): void {
    head.headers = withoutHeaders(head.headers, NO_BODY_DROPPED);
    if (emptyBody) head.headers.push('Content-Length', '0');
    this.#next.head(head);
    this.#next.end();
  }

  // `length` bytes from `start`, with back-pressure; HEAD and empty files
  // never open the file.
  async #send(head: ResponseHead, path: string, start: number, length: number, method: string): Promise<void> {
    if (method === 'HEAD' || length === 0) {
      this.#next.head(head);
      return this.#next.end();
    }
    const owner = this.#owner;
    let fd: number;
    try {
      // Non-blocking: a FIFO swapped in since the stat would not hang a thread.
      fd = await open(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch (err) {
      if (this.#stopped) return;
      log.warn('X-Sendfile file not served', { service: owner.ctx.serviceName, path, error: (err as Error).message });
      return owner.fail(new ProxyError(XSENDFILE_FAILED, `X-Sendfile open failed: ${(err as Error).message}`));
    }
    const next = this.#next;
    const res = owner.ctx.res!;
    let wake: (() => void) | null = null;
    const resume = (): void => wake?.();
    this.#wake = resume;
    res.once('close', resume); // a client that leaves never drains
    try {
      if (this.#stopped) return;
      next.head(head);
      let pos = start;
      let left = length;
      while (left > 0) {
        const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, left));
        const n = await read(fd, buf, pos);
        if (this.#stopped || res.destroyed) return;
        // Shorter than its stat said: the promised length cannot be kept.
        if (n === 0) throw new Error(`X-Sendfile file shrank while served: ${path}`);
        pos += n;
        left -= n;
        const chunk = n === buf.length ? buf : buf.subarray(0, n);
        if (left === 0) return next.end(chunk);
        if (!next.body(chunk)) {
          await new Promise<void>((r) => {
            wake = r;
            next.onDrain(resume);
          });
          wake = null;
        }
      }
    } catch (err) {
      if (!this.#stopped) owner.fail(new ProxyError(XSENDFILE_FAILED, (err as Error).message));
    } finally {
      this.#wake = null;
      fs.close(fd, () => {});
    }
  }
}

function open(path: string, flags: number): Promise<number> {
  return new Promise((ok, fail) => fs.open(path, flags, (err, fd) => (err ? fail(err) : ok(fd))));
}

function read(fd: number, buf: Buffer, position: number): Promise<number> {
  return new Promise((ok, fail) => fs.read(fd, buf, 0, buf.length, position, (err, n) => (err ? fail(err) : ok(n))));
}
