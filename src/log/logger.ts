// JSON lines in the format of Go's log/slog JSONHandler, as kamal-proxy writes:
//   {"time":"…","level":"INFO","msg":"Server started","http":80,"https":443}
//
// stdout to a pipe is synchronous in Node, so a slow reader would stall the
// event loop. Lines are buffered as bytes and written with fs.write, one write
// in flight, batched every FLUSH_INTERVAL_MS (a write per event-loop turn is
// too many). Past the buffer cap we write synchronously, pushing back instead
// of growing; if a write is in flight then, we buffer up to a hard limit
// (writing around it would reorder lines) and past that drop and count lines.
import { fs } from '../util/node-fs.ts';
import { LineBuffer } from './line-buffer.ts';

const { write, writeSync } = fs;

export type Level = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
export type Attrs = Record<string, unknown>;

export interface LoggerOptions {
  fd?: number; // default 1 (stdout)
  debug?: boolean;
  now?: () => Date;
  /** Buffered bytes past which logging writes synchronously. */
  bufferLimit?: number;
}

const DEFAULT_BUFFER_LIMIT = 1 << 20; // absorbs a burst of request lines
// Hard limit, relative to bufferLimit, only reached while a write is stuck.
const HARD_LIMIT_FACTOR = 16;
const FLUSH_INTERVAL_MS = 10;
// Or as soon as this much is buffered (at most half the buffer limit).
const BATCH_BYTES = 64 * 1024;
// What #admit decides for a line.
const QUEUE = 0;
const SYNC = 1;
const DROP = 2;
const LINE_END = Buffer.from('}\n');
// A non-blocking fd (one libuv has also opened as process.stdout) answers
// EAGAIN when the pipe is full: try again shortly.
const RETRY_MS = 5;

export class Logger {
  debugEnabled: boolean;
  #fd: number;
  readonly #nowMs: () => number;
  readonly #limit: number;
  readonly #batchBytes: number;

  readonly #pending = new LineBuffer();
  #scheduled = false;
  #timer: NodeJS.Timeout | null = null;
  #inFlight = false;
  #dropped = 0;
  #idle: Array<() => void> = [];

  // The last formatted time, reused within the same millisecond.
  #lastMs = NaN;
  #lastTime = '';

  constructor(opts: LoggerOptions = {}) {
    this.#fd = opts.fd ?? 1;
    this.debugEnabled = opts.debug ?? false;
    const now = opts.now;
    this.#nowMs = now === undefined ? Date.now : () => now().getTime();
    this.#limit = opts.bufferLimit ?? DEFAULT_BUFFER_LIMIT;
    this.#batchBytes = Math.min(BATCH_BYTES, this.#limit / 2);
  }

  /** Sends what follows to another fd (tests send in-process proxies' logs to a file). */
  setFd(fd: number): void {
    this.flushSync();
    this.#fd = fd;
  }

  // A data-plane worker hands its batches to the main thread, which writes
  // them with its own: one stream, whole lines, never interleaved mid-line.
  // The batch is only lent: forward copies what it keeps.
  #forward: ((lines: Buffer) => void) | null = null;
  forwardTo(forward: (lines: Buffer) => void): void {
    this.flushSync();
    this.#forward = forward;
  }

  /** Whole lines another thread formatted, written in turn with ours. */
  appendLines(lines: Buffer): void {
    const admit = this.#admit();
    if (admit === DROP) return;
    this.#pending.bytes(lines);
    this.#written(admit);
  }

  debug(msg: string, attrs?: Attrs): void {
    if (this.debugEnabled) this.#emit('DEBUG', msg, attrs === undefined ? '' : formatAttrs(attrs));
  }

  info(msg: string, attrs?: Attrs): void {
    this.#emit('INFO', msg, attrs === undefined ? '' : formatAttrs(attrs));
  }

  warn(msg: string, attrs?: Attrs): void {
    this.#emit('WARN', msg, attrs === undefined ? '' : formatAttrs(attrs));
  }

  error(msg: string, attrs?: Attrs): void {
    this.#emit('ERROR', msg, attrs === undefined ? '' : formatAttrs(attrs));
  }

  // The per-request hot path: `writeAttrs` writes `,"key":value…` straight
  // into the line buffer, making no string. It must not log.
  infoWith<T>(msg: string, writeAttrs: (out: LineBuffer, arg: T) => void, arg: T): void {
    const admit = this.#admit();
    if (admit === DROP) return;
    const out = this.#pending;
    out.bytes(this.#infoPrefix(msg));
    writeAttrs(out, arg);
    out.bytes(LINE_END);
    this.#written(admit);
  }

  // Writes everything buffered, synchronously (exit paths). A write already
  // in flight cannot be recalled and may land after these lines.
  flushSync(): void {
    this.#scheduled = false;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#noteDropped();
    if (this.#pending.size === 0) return;
    const buf = this.#pending.take();
    if (this.#forward !== null) this.#forward(buf);
    else writeAllSync(this.#fd, buf);
    this.#pending.release(buf);
    if (!this.#inFlight) this.#resolveIdle();
  }

  // What other threads have logged and not yet handed over: flush() waits
  // for their lines too (the data-plane workers).
  #elsewhere: (() => Promise<void>) | null = null;
  flushElsewhereFirst(elsewhere: (() => Promise<void>) | null): void {
    this.#elsewhere = elsewhere;
  }

  /** Resolves once everything logged so far, by any thread, has been written. */
  async flush(): Promise<void> {
    if (this.#elsewhere !== null) await this.#elsewhere();
    return this.#flushOwn();
  }

  #flushOwn(): Promise<void> {
    if (!this.#inFlight && this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle.push(resolve);
      this.#schedule(true);
    });
  }

  // Private

  #emit(level: Level, msg: string, attrsJson: string): void {
    const admit = this.#admit();
    if (admit === DROP) return;
    this.#pending.append(`{"time":"${this.#time()}","level":"${level}","msg":${quote(msg)}${attrsJson}}\n`);
    this.#written(admit);
  }

  #admit(): number {
    if (this.#pending.size < this.#limit) return QUEUE;
    if (!this.#inFlight) return SYNC;
    if (this.#pending.size < this.#limit * HARD_LIMIT_FACTOR) return QUEUE;
    this.#dropped++;
    return DROP;
  }

  #written(admit: number): void {
    if (admit === SYNC) this.flushSync();
    // A full batch goes out at once rather than at the tick.
    else this.#schedule(this.#pending.size >= this.#batchBytes);
  }

  // `{"time":"…","level":"INFO","msg":"…"` as bytes, made once per millisecond.
  #prefixTime = '';
  #prefixMsg = '';
  #prefix: Buffer = Buffer.alloc(0);
  #infoPrefix(msg: string): Buffer {
    const time = this.#time();
    if (time !== this.#prefixTime || msg !== this.#prefixMsg) {
      this.#prefixTime = time;
      this.#prefixMsg = msg;
      this.#prefix = Buffer.from(`{"time":"${time}","level":"INFO","msg":${quote(msg)}`);
    }
    return this.#prefix;
  }

  #time(): string {
    const ms = this.#nowMs();
    if (ms !== this.#lastMs) {
      this.#lastMs = ms;
      this.#lastTime = formatTime(new Date(ms));
    }
    return this.#lastTime;
  }

  // `now`: write on this turn of the event loop, not after FLUSH_INTERVAL_MS.
  #schedule(now = false): void {
    if (this.#inFlight) return;
    if (this.#scheduled) {
      if (!now || this.#timer === null) return;
      clearTimeout(this.#timer);
    }
    this.#scheduled = true;
    if (now) {
      this.#timer = null;
      setImmediate(this.#onTimer);
    } else this.#timer = setTimeout(this.#onTimer, FLUSH_INTERVAL_MS);
  }

  readonly #onTimer = (): void => {
    if (!this.#scheduled) return; // flushSync got there first
    this.#scheduled = false;
    this.#timer = null;
    this.#writeNext();
  };

  #writeNext(): void {
    this.#noteDropped();
    if (this.#pending.size === 0) {
      this.#resolveIdle();
      return;
    }
    // Still over the cap after a write: the reader is slower; block, not grow.
    if (this.#pending.size >= this.#limit || this.#forward !== null) {
      this.flushSync();
      return;
    }
    this.#inFlight = true;
    const buf = this.#pending.take();
    this.#writeAsync(buf, buf);
  }

  // `whole` is what take() gave out, handed back once all of it is written.
  #writeAsync(buf: Buffer, whole: Buffer): void {
    write(this.#fd, buf, 0, buf.length, null, (err, written) => {
      if (err) {
        if (err.code === 'EAGAIN') {
          setTimeout(() => this.#writeAsync(buf, whole), RETRY_MS);
          return;
        }
        // EPIPE, EBADF…: nobody can read these lines, nor a report of them.
      } else if (written < buf.length) {
        this.#writeAsync(buf.subarray(written), whole);
        return;
      }
      this.#pending.release(whole);
      this.#inFlight = false;
      this.#noteDropped();
      // What came in meanwhile waits for the next tick, unless it is a full
      // batch already or someone waits for it (flush()).
      if (this.#pending.size === 0) this.#resolveIdle();
      else this.#schedule(this.#idle.length > 0 || this.#pending.size >= this.#batchBytes);
    });
  }

  // Reported as soon as there is room again, in the same format as any line.
  #noteDropped(): void {
    if (this.#dropped === 0) return;
    const count = this.#dropped;
    this.#dropped = 0;
    const line = `{"time":"${this.#time()}","level":"WARN","msg":"Log lines dropped","count":${count}}\n`;
    this.#pending.append(line);
  }

  #resolveIdle(): void {
    const waiting = this.#idle;
    this.#idle = [];
    for (const resolve of waiting) resolve();
  }
}

function writeAllSync(fd: number, buf: Buffer): void {
  let offset = 0;
  while (offset < buf.length) {
    try {
      offset += writeSync(fd, buf, offset, buf.length - offset);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return; // as in #writeAsync
      sleep(RETRY_MS);
    }
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleep(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

// Formatting

// RFC 3339 in UTC as Go's time.RFC3339Nano prints it: no trailing zeros in
// the fraction, and no fraction on a whole second.
export function formatTime(d: Date): string {
  const iso = d.toISOString(); // 2026-11-23T23:45:57.120Z
  const dot = iso.length - 5;
  let end = iso.length - 1;
  while (end > dot && iso.charCodeAt(end - 1) === 48 /* 0 */) end--;
  return end === dot + 1 ? iso.slice(0, dot) + 'Z' : iso.slice(0, end) + 'Z';
}

// JSON.stringify, plus the escapes Go's encoder adds for U+2028/U+2029 (valid
// JSON either way, but they break line-oriented and JavaScript consumers).
const LINE_SEPARATORS = /[\u2028\u2029]/g;
const HAS_LINE_SEPARATOR = /[\u2028\u2029]/; // not /g: test() on a /g regex is stateful
function quote(s: string): string {
  const json = JSON.stringify(s);
  return HAS_LINE_SEPARATOR.test(json) ? json.replace(LINE_SEPARATORS, escapeSeparator) : json;
}
function escapeSeparator(c: string): string {
  return c === '\u2028' ? '\\u2028' : '\\u2029';
}

function formatAttrs(attrs: Attrs): string {
  let out = '';
  for (const key of Object.keys(attrs)) out += `,${quote(key)}:${formatValue(attrs[key])}`;
  return out;
}

function formatValue(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return quote(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'bigint':
      return v.toString(); // e.g. durations in nanoseconds, as Go's int64
    case 'boolean':
      return v ? 'true' : 'false';
    case 'undefined':
      return 'null';
    case 'object':
      if (v === null) return 'null';
      if (v instanceof Error) return quote(v.message); // slog prints err.Error()
      if (v instanceof Date) return quote(formatTime(v));
      try {
        return (JSON.stringify(v, nestedValue) ?? 'null').replace(LINE_SEPARATORS, escapeSeparator);
      } catch (err) {
        return quote(`!ERROR:${(err as Error).message}`); // slog's marker for unencodable values
      }
    default:
      return quote(String(v));
  }
}

function nestedValue(_key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Error) return v.message;
  return v;
}

/** The process-wide logger, on stdout. */
export const log = new Logger();

// Lines still buffered at exit are written on the way out.
process.once('exit', () => log.flushSync());
