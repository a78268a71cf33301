// Log lines waiting to be written, kept as UTF-8 bytes in a reusable chunk
// rather than as JavaScript strings. Held strings outlive the young
// generation (a busy proxy scavenges every few hundred requests) and get
// copied and promoted before they are written; a line copied into the chunk
// at once dies young, and the chunk itself is never scanned by the GC.
const CHUNK_BYTES = 128 * 1024;

export class LineBuffer {
  #chunk: Buffer = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  #used = 0;
  #full: Buffer[] = []; // earlier chunks (and oversized lines), in order
  #spare: Buffer | null = null; // a chunk back from its write, to reuse
  #size = 0;

  // Bytes waiting.
  get size(): number {
    return this.#size;
  }

  append(line: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    if (line.length * 3 > CHUNK_BYTES - this.#used) {
      this.#seal();
      if (line.length * 3 > CHUNK_BYTES) {
        const own = Buffer.from(line);
        this.#full.push(own);
        this.#size += own.length;
        return;
      }
    }
    const n = this.#chunk.write(line, this.#used);
    this.#used += n;
    this.#size += n;
  }

  // Everything waiting, in order, as one Buffer the caller owns until it
  // gives it back with release() (or drops it).
  take(): Buffer {
    this.#seal();
    const parts = this.#full;
    this.#full = [];
    this.#size = 0;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  release(buf: Buffer): void {
    if (buf.byteOffset === 0 && buf.buffer.byteLength === CHUNK_BYTES) this.#spare = Buffer.from(buf.buffer);
  }

  #seal(): void {
    if (this.#used === 0) return;
    this.#full.push(this.#chunk.subarray(0, this.#used));
    this.#chunk = this.#spare ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
    this.#spare = null;
    this.#used = 0;
  }
}
