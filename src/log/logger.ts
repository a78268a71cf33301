// JSON-lines logger in the format of Go's log/slog JSONHandler, which is what
// kamal-proxy writes to stdout:
//   {"time":"…","level":"INFO","msg":"Server started","http":80,"https":443}
//
// Writing: stdout to a pipe is synchronous in Node on Linux, so a slow reader
// (or `docker logs` under load) would stall the event loop on every line.
// Instead lines are buffered and written with fs.write on the fd, one write in
// flight at a time; whatever arrives meanwhile goes out in the next write.
// Writes happen every FLUSH_INTERVAL_MS (or once a batch is full): each
// fs.write is a trip through libuv's thread pool and a wake-up of the main
// thread, and one per event-loop turn made thousands a second on a busy
// proxy. Lines carry their own time, so the delay shows nowhere but in
// `tail -f`.
// Lines wait as bytes in a LineBuffer, not as strings (line-buffer.ts).
// Buffered text is capped: past the cap, with no write in flight, we write
// synchronously, which pushes back on the process instead of growing memory.
// With a write in flight we cannot write around it without reordering (or,
// on a pipe, interleaving) lines, so we keep buffering up to a hard limit and
// past that drop lines and report how many, once the writer catches up.
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

// ~1 MiB absorbs a burst of a few thousand request lines without blocking.
const DEFAULT_BUFFER_LIMIT = 1 << 20;
// Hard limit, relative to bufferLimit, only reached while a write is stuck.
const HARD_LIMIT_FACTOR = 16;
// At 10,000 requests/s this is about 100 lines (60 KB) a write.
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

  /** `attrsJson` is ready JSON text, `,"key":value…`. */
  infoRaw(msg: string, attrsJson: string): void {
    this.#emit('INFO', msg, attrsJson);
  }

  /**
   * For the per-request hot path: `writeAttrs` writes `,"key":value…` straight
   * into the line buffer (no string is made for the line). It must not log.
   */
  infoWith<T>(msg: string, writeAttrs: (out: LineBuffer, arg: T) => void, arg: T): void {
    const admit = this.#admit();
    if (admit === DROP) return;
    const out = this.#pending;
    out.bytes(this.#infoPrefix(msg));
    writeAttrs(out, arg);
    out.bytes(LINE_END);
    this.#written(admit);
  }

  /**
   * Writes everything buffered, synchronously; for exit paths. A write
   * already in flight is left to finish on its own (it cannot be recalled),
   * so only a line being written at that very moment can land after these.
   */
  flushSync(): void {
    this.#scheduled = false;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#noteDropped();
    if (this.#pending.size === 0) return;
    const buf = this.#pending.take();
    writeAllSync(this.#fd, buf);
    this.#pending.release(buf);
    if (!this.#inFlight) this.#resolveIdle();
  }

  /** Resolves once everything logged so far has been written. */
  flush(): Promise<void> {
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

  // Over the buffer cap a line is written at once (SYNC), unless a write is
  // in flight: then it waits, up to the hard limit, past which it is dropped.
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

  // Lines logged within FLUSH_INTERVAL_MS share one write; `now` writes on
  // this turn of the event loop instead. Either keeps the process alive until
  // the lines are written, as any pending write does.
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
    // Over the cap even after the last write: the reader is slower than we
    // are, so block here rather than keep growing.
    if (this.#pending.size >= this.#limit) {
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
        // EPIPE, EBADF…: nobody can read these lines; there is nowhere to
        // report that either. Drop the batch and carry on.
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

/**
 * RFC 3339 in UTC the way Go's time.RFC3339Nano prints it: fractional seconds
 * without trailing zeros, and none at all on a whole second.
 */
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

// Lines still buffered when the process exits (process.exit, end of the event
// loop) are written on the way out.
process.once('exit', () => log.flushSync());
