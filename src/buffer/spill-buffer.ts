// A body buffer for --buffer-requests / --buffer-responses: the first
// maxMemoryBytes in memory, the rest in a `proxy-buffer-*` temp file. As
// kamal-proxy's Buffer: a write is refused when size + chunk > maxBytes (so
// exactly maxBytes fits), the chunk crossing the memory limit is split, and a
// memory limit of 0 sends everything to disk. Unlike Go's blocking io.Copy,
// writes return promises and bufferStream() pauses the source until each
// settles, so memory stays at maxMemoryBytes + one chunk.
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished, Readable } from 'node:stream';
import { fs } from '../util/node-fs.ts';
import { randomHex } from '../util/random.ts';
import { bodyBytesPassed } from './body-gc.ts';

export const BODY_TOO_LARGE = 'KN_BODY_TOO_LARGE';

export class BodyTooLargeError extends Error {
  readonly code = BODY_TOO_LARGE;
  constructor() {
    super('maximum size exceeded'); // kamal-proxy's ErrMaximumSizeExceeded text
    this.name = 'BodyTooLargeError';
  }
}

export type SpillBufferOptions = { maxMemoryBytes: number; maxBytes: number; tmpDir?: string };

const TEMP_PREFIX = 'proxy-buffer-';
// Pieces reader() hands out: one highWaterMark's worth.
const READ_PIECE_BYTES = 64 * 1024;
// First allocation for the memory part; it doubles up to maxMemoryBytes so a
// small body does not pin a whole --buffer-memory worth of RAM.
const MIN_MEMORY_CAPACITY_BYTES = 16 * 1024;
const EMPTY = Buffer.alloc(0);

type Cursor = { memory: number; file: number };

export class SpillBuffer {
  readonly #maxMemoryBytes: number;
  readonly #maxBytes: number;
  readonly #tmpDir: string;
  // Our own copy, not the caller's chunks: a socket chunk is often a view into
  // a larger read buffer, and keeping the view would keep all of it alive.
  #memory: Buffer = EMPTY;
  #memoryLength = 0;
  #file: FileHandle | undefined;
  #filePath: string | undefined;
  #fileLength = 0;
  #size = 0;
  #spilled = false;
  // The chain of accepted writes, in order. Never rejects (failures are
  // reported by each write's own promise and remembered in #failure).
  #pending: Promise<void> = Promise.resolve();
  #failure: Error | undefined;
  #reader: Readable | undefined;
  #readInFlight: Promise<unknown> = Promise.resolve();
  #disposing: Promise<void> | undefined;

  constructor(opts: SpillBufferOptions) {
    this.#maxMemoryBytes = Math.max(0, opts.maxMemoryBytes);
    this.#maxBytes = Math.max(0, opts.maxBytes);
    this.#tmpDir = opts.tmpDir ?? tmpdir();
  }

  // Bytes accepted so far (a refused chunk is not counted).
  get size(): number {
    return this.#size;
  }

  // True once a temp file has been created; stays true after dispose().
  get spilled(): boolean {
    return this.#spilled;
  }

  write(chunk: Buffer): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#disposing !== undefined) return Promise.reject(new Error('write after dispose'));
    if (this.#reader !== undefined) return Promise.reject(new Error('write after read')); // Go's ErrWriteAfterRead
    if (this.#maxBytes > 0 && this.#size + chunk.length > this.#maxBytes) {
      const failure = new BodyTooLargeError();
      this.#failure = failure;
      // Nothing held is of use any more: let go of it now.
      return this.dispose().then(() => {
        throw failure;
      });
    }
    this.#size += chunk.length;
    const held = this.#pending.then(() => this.#hold(chunk));
    this.#pending = held.catch(() => undefined);
    return held;
  }

  reader(): Readable {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#disposing !== undefined) throw new Error('reader after dispose');
    if (this.#reader !== undefined) throw new Error('reader() can be called only once');
    const cursor: Cursor = { memory: 0, file: 0 };
    const stream: Readable = new Readable({
      highWaterMark: READ_PIECE_BYTES,
      // Node does not call read() again until we push, so pieces never overlap.
      read: () => {
        const piece = this.#nextPiece(cursor);
        this.#readInFlight = piece.catch(() => undefined);
        piece.then(
          (p) => {
            if (!stream.destroyed) stream.push(p);
          },
          (err: Error) => stream.destroy(err),
        );
      },
    });
    this.#reader = stream;
    return stream;
  }

  // Never rejects: it runs from finally blocks and fire-and-forget paths where
  // a rejection would become an unhandled one. A file we cannot remove is
  // reported as a process warning (kamal-proxy logs it and carries on).
  dispose(): Promise<void> {
    this.#disposing ??= this.#release();
    return this.#disposing;
  }

  async #release(): Promise<void> {
    // Disposing mid-read aborts the reader: its data is about to go away.
    if (this.#reader !== undefined && !this.#reader.readableEnded) this.#reader.destroy();
    await this.#pending;
    await this.#readInFlight;
    this.#memory = EMPTY;
    this.#memoryLength = 0;
    const file = this.#file;
    const path = this.#filePath;
    this.#file = undefined;
    this.#filePath = undefined;
    if (file !== undefined) await file.close().catch(() => undefined);
    if (path !== undefined) {
      await fs.promises.unlink(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') process.emitWarning(`cannot remove spill file ${path}: ${err.message}`, { code: 'KN_SPILL_CLEANUP' });
      });
    }
  }

  async #hold(chunk: Buffer): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    // A write queued behind dispose(): don't create a file nobody will read.
    if (this.#disposing !== undefined) throw new Error('write after dispose');
    try {
      let rest = chunk;
      if (this.#file === undefined) {
        const room = this.#maxMemoryBytes - this.#memoryLength;
        const head = rest.length <= room ? rest : rest.subarray(0, room);
        this.#copyToMemory(head);
        rest = rest.subarray(head.length);
        if (rest.length === 0) return;
        await this.#createFile();
      }
      await this.#writeToFile(rest);
    } catch (err) {
      this.#failure ??= err as Error;
      throw err;
    }
  }

  #copyToMemory(part: Buffer): void {
    if (part.length === 0) return;
    const needed = this.#memoryLength + part.length;
    if (needed > this.#memory.length) {
      const capacity = Math.min(this.#maxMemoryBytes, Math.max(needed, this.#memory.length * 2, MIN_MEMORY_CAPACITY_BYTES));
      // allocUnsafeSlow: never a slice of Node's shared pool; every byte is
      // overwritten before it is read.
      const grown = Buffer.allocUnsafeSlow(capacity);
      this.#memory.copy(grown, 0, 0, this.#memoryLength);
      this.#memory = grown;
    }
    part.copy(this.#memory, this.#memoryLength);
    this.#memoryLength = needed;
  }

  // Like Go's os.CreateTemp: random name, O_EXCL, 0600, retried on a clash.
  async #createFile(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const path = join(this.#tmpDir, TEMP_PREFIX + randomHex(8));
      try {
        // fs.promises (FileHandle) loads on the first spill, not at start.
        this.#file = await fs.promises.open(path, 'wx+', 0o600);
        this.#filePath = path;
        this.#spilled = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 10) throw err;
      }
    }
  }

  async #writeToFile(data: Buffer): Promise<void> {
    const file = this.#file as FileHandle;
    let offset = 0;
    while (offset < data.length) {
      // Positional writes: a short write just continues where it stopped.
      const { bytesWritten } = await file.write(data, offset, data.length - offset, this.#fileLength);
      if (bytesWritten === 0) throw new Error('spill file write made no progress');
      offset += bytesWritten;
      this.#fileLength += bytesWritten;
    }
    bodyBytesPassed(data.length);
  }

  async #nextPiece(cursor: Cursor): Promise<Buffer | null> {
    await this.#pending; // in case reader() came before the last write settled
    if (this.#failure !== undefined) throw this.#failure;
    if (cursor.memory < this.#memoryLength) {
      const end = Math.min(this.#memoryLength, cursor.memory + READ_PIECE_BYTES);
      // A view, not a copy: nothing writes to the memory part once reading starts.
      const piece = this.#memory.subarray(cursor.memory, end);
      cursor.memory = end;
      return piece;
    }
    const file = this.#file;
    if (file !== undefined && cursor.file < this.#fileLength) {
      const want = Math.min(READ_PIECE_BYTES, this.#fileLength - cursor.file);
      // A fresh buffer per piece: the consumer may hold on to what we pushed.
      const piece = Buffer.allocUnsafe(want);
      const { bytesRead } = await file.read(piece, 0, want, cursor.file);
      if (bytesRead === 0) throw new Error('spill file is shorter than what was written');
      cursor.file += bytesRead;
      bodyBytesPassed(bytesRead);
      return bytesRead === want ? piece : piece.subarray(0, bytesRead);
    }
    return null;
  }
}

// Reads a whole stream into a new SpillBuffer; on failure the buffer is
// disposed before the promise rejects. Over maxBytes: BodyTooLargeError, the
// source left paused, not destroyed (that would destroy the socket the 413
// goes out on). Otherwise the source's own error, unchanged (a malformed
// chunked body keeps its HPE_* code), or ERR_STREAM_PREMATURE_CLOSE.
export function bufferStream(source: NodeJS.ReadableStream | Readable, opts: SpillBufferOptions): Promise<SpillBuffer> {
  const buffer = new SpillBuffer(opts);
  return new Promise<SpillBuffer>((resolve, reject) => {
    let last: Promise<void> = Promise.resolve();
    let settled = false;
    const stopWatching = () => {
      source.off('data', onData);
      stopFinished();
    };
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      stopWatching();
      source.pause();
      void buffer.dispose().then(() => reject(err));
    };
    const onData = (chunk: Buffer | string) => {
      source.pause();
      const write = buffer.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      last = write;
      write.then(() => {
        // Only the newest write resumes: a source that ignores pause() must
        // not be resumed early by an older one.
        if (!settled && last === write) source.resume();
      }, fail);
    };
    source.on('data', onData);
    const stopFinished = finished(source, (err) => {
      if (err) {
        fail(err);
        return;
      }
      // 'end' can come while the last chunk is still being written.
      last.then(() => {
        if (settled) return;
        settled = true;
        stopWatching();
        resolve(buffer);
      }, fail);
    });
  });
}
