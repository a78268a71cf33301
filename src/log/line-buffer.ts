// Log lines waiting to be written, as UTF-8 bytes in reusable chunks: held
// strings would outlive the young generation and be promoted, while a line
// copied into a chunk at once dies young. The request log writes its line
// piece by piece (bytes, jsonString, int), making no string at all. A line
// may span two chunks, which take() joins.
const CHUNK_BYTES = 128 * 1024;
// The most a safe integer takes in decimal, with its sign.
const INT_BYTES = 17;

export class LineBuffer {
  #chunk: Buffer = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  #used = 0;
  #full: Buffer[] = []; // earlier chunks (and oversized lines), in order
  #spare: Buffer | null = null; // a chunk back from its write, to reuse
  #size = 0;

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

  // Bytes as they are (pre-encoded constant parts of a line).
  bytes(b: Uint8Array): void {
    if (b.length > CHUNK_BYTES - this.#used) {
      this.#seal();
      if (b.length > CHUNK_BYTES) {
        this.#full.push(Buffer.from(b));
        this.#size += b.length;
        return;
      }
    }
    this.#chunk.set(b, this.#used);
    this.#used += b.length;
    this.#size += b.length;
  }

  // s (from index `from` on) as a JSON string literal, byte for byte what
  // JSON.stringify gives; printable ASCII without quotes or backslashes (nearly
  // every host, path and id) is copied in one pass.
  jsonString(s: string, from = 0): void {
    // from may be past the end (the query of "": search.slice(1)): still two quotes.
    const n = Math.max(0, s.length - from) + 2;
    if (n > CHUNK_BYTES - this.#used) {
      if (n > CHUNK_BYTES) return this.#quoted(s, from);
      this.#seal();
    }
    const c = this.#chunk;
    let at = this.#used;
    c[at++] = 34; // "
    for (let i = from; i < s.length; i++) {
      const ch = s.charCodeAt(i);
      // Nothing is counted as written until the closing quote, so bailing out leaves no trace.
      if (ch < 0x20 || ch > 0x7e || ch === 34 || ch === 92) return this.#quoted(s, from);
      c[at++] = ch;
    }
    c[at++] = 34;
    this.#size += at - this.#used;
    this.#used = at;
  }

  #quoted(s: string, from: number): void {
    this.append(JSON.stringify(from === 0 ? s : s.slice(from)));
  }

  // An integer in decimal, as `${n}` prints it.
  int(n: number): void {
    if (!Number.isSafeInteger(n)) return this.append(String(n));
    if (INT_BYTES > CHUNK_BYTES - this.#used) this.#seal();
    const c = this.#chunk;
    let at = this.#used;
    if (n < 0) {
      c[at++] = 45; // -
      n = -n;
    }
    let digits = 1;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
    at += digits;
    for (let i = at - 1; i >= at - digits; i--) {
      c[i] = 48 + (n % 10);
      n = Math.floor(n / 10);
    }
    this.#size += at - this.#used;
    this.#used = at;
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
