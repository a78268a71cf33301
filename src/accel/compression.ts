// --compress: a response the client would rather have compressed goes out as
// brotli, zstd or gzip (accept-encoding.ts), streamed through Node's zlib.
// What is compressed and how its head changes is compression-rules.ts; here
// the body flows. A small body of known length is compressed whole in one
// call and keeps a Content-Length; a larger one streams, with back-pressure
// both ways: a full compressor pauses the upstream, a slow client pauses the
// compressor. A stream (an event stream, or a body of unknown length) is
// flushed after each upstream write, so an event reaches the client when the
// app sends it, not when a block fills.
import { createRequire } from 'node:module';
import type * as Zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import * as d from '../config/defaults.ts';
import type { TargetOptions } from '../config/service-options.ts';
import type { ResponseFilter, ResponseHead, ResponseSink, SinkOwner } from '../http/response-sink.ts';
import type { Coding } from './accept-encoding.ts';
import { planCompression } from './compression-rules.ts';

export function compressResponses(_o: TargetOptions): ResponseFilter {
  return (next, owner) => new CompressedResponse(next, owner);
}

// node:zlib loads with the first compressed response: a proxy with no
// --compress service never needs it.
let zlibModule: typeof Zlib | null = null;
function zlib(): typeof Zlib {
  return (zlibModule ??= createRequire(import.meta.url)('node:zlib') as typeof Zlib);
}

function flushKind(coding: Coding): number {
  const { constants } = zlib();
  return coding === 'gzip' ? constants.Z_SYNC_FLUSH : coding === 'br' ? constants.BROTLI_OPERATION_FLUSH : constants.ZSTD_e_flush;
}

const LEVELS: Record<Coding, number> = { gzip: d.COMPRESS_GZIP_LEVEL, br: d.COMPRESS_BROTLI_QUALITY, zstd: d.COMPRESS_ZSTD_LEVEL };

export type Compressor = Transform & Zlib.Zlib;

// `length`: the body's size when known, so brotli and zstd size their windows
// and tables to it; -1 for a stream, which gets small ones. `level`: the bench
// tries others.
function options(coding: Coding, length: number, level: number): Zlib.ZlibOptions & Zlib.BrotliOptions & Zlib.ZstdOptions {
  const { constants } = zlib();
  switch (coding) {
    case 'gzip':
      return { level };
    case 'br': {
      const quality = { [constants.BROTLI_PARAM_QUALITY]: level };
      if (length < 0) return { params: { ...quality, [constants.BROTLI_PARAM_LGWIN]: d.COMPRESS_BROTLI_STREAM_WINDOW_BITS } };
      return { params: { ...quality, [constants.BROTLI_PARAM_LGWIN]: d.COMPRESS_BROTLI_WINDOW_BITS, [constants.BROTLI_PARAM_SIZE_HINT]: length } };
    }
    case 'zstd': {
      const params = { [constants.ZSTD_c_compressionLevel]: level };
      if (length >= 0) return { params, pledgedSrcSize: length };
      const table = d.COMPRESS_ZSTD_STREAM_TABLE_BITS;
      return { params: { ...params, [constants.ZSTD_c_windowLog]: d.COMPRESS_ZSTD_STREAM_WINDOW_BITS, [constants.ZSTD_c_hashLog]: table, [constants.ZSTD_c_chainLog]: table } };
    }
  }
}

export function createCompressor(coding: Coding, length: number, level = LEVELS[coding]): Compressor {
  const o = options(coding, length, level);
  if (coding === 'gzip') return zlib().createGzip(o);
  if (coding === 'br') return zlib().createBrotliCompress(o);
  return zlib().createZstdCompress(o);
}

// A whole body in one call, on this thread (COMPRESS_WHOLE_MAX_BYTES).
export function compressWhole(coding: Coding, body: Buffer, level = LEVELS[coding]): Buffer {
  const o = options(coding, body.length, level);
  if (coding === 'gzip') return zlib().gzipSync(body, o);
  if (coding === 'br') return zlib().brotliCompressSync(body, o);
  return zlib().zstdCompressSync(body, o);
}

// Itself the request log's record of what it compressed (ctx.compression).
class CompressedResponse implements ResponseSink {
  coding: Coding | '' = '';
  bytesIn = 0;
  readonly #next: ResponseSink;
  readonly #owner: SinkOwner;
  // null: the response passes as it came (after its head's changes, if any).
  #z: Compressor | null = null;
  // A small body of known length, collected to be compressed whole; its head
  // waits for the Content-Length.
  #whole: Buffer[] | null = null;
  #head: ResponseHead | null = null;
  #flush = -1; // the flush kind after each write, or -1: none
  #over = false; // ended or discarded

  constructor(next: ResponseSink, owner: SinkOwner) {
    this.#next = next;
    this.#owner = owner;
  }

  head(head: ResponseHead): void {
    const plan = planCompression(head, this.#owner.ctx);
    if (plan.coding !== null && plan.hasBody) {
      this.coding = plan.coding;
      this.#owner.ctx.compression = this;
      const small = head.contentLength >= 0 && head.contentLength <= d.COMPRESS_WHOLE_MAX_BYTES;
      if (small && !head.contentType.startsWith('text/event-stream')) {
        this.#whole = [];
        this.#head = plan.head;
        return;
      }
      this.#start(plan.coding, head);
    }
    this.#next.head(plan.head);
  }

  body(chunk: Buffer): boolean {
    if (this.#whole !== null) {
      this.bytesIn += chunk.length;
      this.#whole.push(chunk); // no more than the small length it announced
      return true;
    }
    const z = this.#z;
    if (z === null) return this.#next.body(chunk);
    this.bytesIn += chunk.length;
    const ok = z.write(chunk);
    if (this.#flush !== -1) z.flush(this.#flush);
    return ok;
  }

  onDrain(resume: () => void): void {
    if (this.#z === null) this.#next.onDrain(resume);
    else this.#z.once('drain', resume);
  }

  end(last?: Buffer): void {
    if (this.#whole !== null) return this.#endWhole(last);
    const z = this.#z;
    if (z === null) return this.#next.end(last);
    if (last === undefined) return void z.end();
    this.bytesIn += last.length;
    z.end(last);
  }

  discard(): void {
    if (this.#over) return;
    this.#over = true;
    this.#whole = null;
    this.#z?.destroy();
    this.#next.discard();
  }

  #endWhole(last: Buffer | undefined): void {
    const chunks = this.#whole!;
    this.#whole = null;
    if (last !== undefined) {
      this.bytesIn += last.length;
      chunks.push(last);
    }
    const coding = this.coding;
    if (coding === '') return;
    let out: Buffer;
    try {
      out = compressWhole(coding, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    } catch (err) {
      return this.#owner.fail(err as Error);
    }
    this.#over = true;
    const head = this.#head!;
    this.#next.head({ ...head, headers: [...head.headers, 'Content-Length', String(out.length)], contentLength: out.length });
    this.#next.end(out);
  }

  #start(coding: Coding, head: ResponseHead): void {
    const z = createCompressor(coding, head.contentLength);
    this.#z = z;
    if (head.contentLength < 0 || head.contentType.startsWith('text/event-stream')) this.#flush = flushKind(coding);
    const next = this.#next;
    const resume = (): void => void z.resume();
    z.on('data', (out: Buffer) => {
      if (!next.body(out)) {
        z.pause();
        next.onDrain(resume);
      }
    });
    z.on('end', () => {
      if (this.#over) return;
      this.#over = true;
      next.end();
    });
    z.on('error', (err: Error) => {
      if (!this.#over) this.#owner.fail(err);
    });
    // A client that leaves after the upstream has finished is nobody's to
    // notice but ours: the compressor would wait for a drain that never comes.
    this.#owner.ctx.res!.once('close', () => {
      if (!this.#over) this.discard();
    });
  }
}
