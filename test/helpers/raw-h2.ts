// HTTP/2 frames written and read by hand over TLS, for what a well-behaved
// client (Node's, nghttp2's) never sends: more streams than the server
// allows, or a Host header beside :authority, twice or disagreeing.
// Header blocks use HPACK literals only (no table, no Huffman).
import tls from 'node:tls';

export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8 } as const;
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;
export const SETTING = { MAX_CONCURRENT_STREAMS: 0x3 } as const;
export const ERROR = { NO_ERROR: 0, PROTOCOL_ERROR: 1, REFUSED_STREAM: 7, ENHANCE_YOUR_CALM: 11 } as const;

const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

export interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

// An HPACK "literal header field without indexing, new name" per pair.
export function headerBlock(pairs: [string, string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of pairs) parts.push(Buffer.from([0]), hpackString(name), hpackString(value));
  return Buffer.concat(parts);
}

function hpackString(s: string): Buffer {
  const bytes = Buffer.from(s, 'latin1');
  if (bytes.length < 127) return Buffer.concat([Buffer.from([bytes.length]), bytes]);
  const len: number[] = [127];
  let rest = bytes.length - 127;
  while (rest >= 128) {
    len.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  len.push(rest);
  return Buffer.concat([Buffer.from(len), bytes]);
}

export function settingsOf(f: Frame): Map<number, number> {
  const out = new Map<number, number>();
  for (let i = 0; i + 6 <= f.payload.length; i += 6) out.set(f.payload.readUInt16BE(i), f.payload.readUInt32BE(i + 2));
  return out;
}

// A TLS connection (ALPN h2) that has sent the preface and an empty SETTINGS
// frame, and collects every frame the server sends.
export class RawH2 {
  readonly frames: Frame[] = [];
  closed = false;
  readonly #socket: tls.TLSSocket;
  #buffered = Buffer.alloc(0);
  #waiters: (() => void)[] = [];

  private constructor(socket: tls.TLSSocket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffered = Buffer.concat([this.#buffered, chunk]);
      while (this.#buffered.length >= 9) {
        const length = this.#buffered.readUIntBE(0, 3);
        if (this.#buffered.length < 9 + length) break;
        const b = this.#buffered;
        this.frames.push({ type: b[3]!, flags: b[4]!, stream: b.readUInt32BE(5) & 0x7fffffff, payload: b.subarray(9, 9 + length) });
        this.#buffered = b.subarray(9 + length);
      }
      this.#wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
  }

  static connect(port: number, servername: string, ca: string): Promise<RawH2> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ port, host: '127.0.0.1', servername, ca, ALPNProtocols: ['h2'] }, () => {
        socket.write(PREFACE);
        socket.write(frame(FRAME.SETTINGS, 0, 0));
        resolve(new RawH2(socket));
      });
      socket.once('error', reject);
    });
  }

  write(...frames: Buffer[]): void {
    this.#socket.write(Buffer.concat(frames));
  }

  // Waits (at most timeoutMs) for a frame that matches, and returns it.
  async waitFor(match: (f: Frame) => boolean, timeoutMs = 5_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(match);
      if (found !== undefined) return found;
      if (this.closed) throw new Error('connection closed before the frame arrived');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a frame');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.#socket.destroy();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
