// SpillBuffer and bufferStream: kamal-proxy's buffer_test.go matrix, plus the
// things Node makes our business: temp-file hygiene, byte-exact large bodies,
// error codes passed through, and back-pressure keeping memory bounded.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { BodyTooLargeError, bufferStream, SpillBuffer } from '../../src/buffer/spill-buffer.ts';

// A real gc() so the memory test starts from a clean baseline rather than
// from garbage left by earlier tests.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const MiB = 1024 * 1024;
const HELLO = 'Hello, World!';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spill-buffer-test-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function spillFiles(): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.startsWith('proxy-buffer-'));
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

function sourceOf(...chunks: (string | Buffer)[]): Readable {
  return Readable.from(
    chunks.map((c) => Buffer.from(c)),
    { objectMode: false },
  );
}

// Deterministic pseudo-random bytes, chunk sizes varying so chunks straddle the
// memory limit at odd offsets. Each chunk is a fresh Buffer, like socket data.
function* pattern(total: number, seed = 1): Generator<Buffer> {
  let state = seed;
  let sent = 0;
  while (sent < total) {
    state = (state * 1103515245 + 12345) >>> 0;
    const n = Math.min(total - sent, 1 + (state % (96 * 1024)));
    const chunk = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) chunk[i] = (state + i * 31 + ((sent + i) >>> 9)) & 0xff;
    sent += n;
    yield chunk;
  }
}

function sha256(chunks: Iterable<Buffer>): string {
  const hash = createHash('sha256');
  for (const c of chunks) hash.update(c);
  return hash.digest('hex');
}

// kamal-proxy's table: [maxBytes, maxMemoryBytes, overflow], body "Hello, World!" (13 bytes).
const MATRIX: { name: string; maxBytes: number; maxMemoryBytes: number; overflow: boolean; spills: boolean }[] = [
  { name: 'unlimited', maxBytes: 0, maxMemoryBytes: 0, overflow: false, spills: true },
  { name: 'unlimited disk', maxBytes: 0, maxMemoryBytes: 5, overflow: false, spills: true },
  { name: 'within memory limits', maxBytes: 2048, maxMemoryBytes: 1024, overflow: false, spills: false },
  { name: 'exceeds memory limits', maxBytes: 2048, maxMemoryBytes: 5, overflow: false, spills: true },
  { name: 'exceeds memory and disk limits', maxBytes: 8, maxMemoryBytes: 5, overflow: true, spills: false },
];

describe('bufferStream (buffered reader matrix)', () => {
  for (const tc of MATRIX) {
    it(tc.name, async () => {
      const pending = bufferStream(sourceOf('Hello, ', 'World!'), { ...tc, tmpDir: dir });
      if (tc.overflow) {
        await assert.rejects(pending, (err: unknown) => {
          assert.ok(err instanceof BodyTooLargeError);
          assert.equal(err.message, 'maximum size exceeded');
          assert.equal(err.code, 'KN_BODY_TOO_LARGE');
          return true;
        });
        assert.deepEqual(await spillFiles(), []);
        return;
      }
      const buffer = await pending;
      assert.equal(buffer.size, 13);
      assert.equal(buffer.spilled, tc.spills);
      assert.equal((await spillFiles()).length, tc.spills ? 1 : 0);
      assert.equal((await readAll(buffer.reader())).toString(), HELLO);
      await buffer.dispose();
      assert.deepEqual(await spillFiles(), []);
    });
  }
});

describe('SpillBuffer.write (buffered writer matrix)', () => {
  for (const tc of MATRIX) {
    it(tc.name, async () => {
      const buffer = new SpillBuffer({ ...tc, tmpDir: dir });
      try {
        if (tc.overflow) {
          await assert.rejects(buffer.write(Buffer.from(HELLO)), { name: 'BodyTooLargeError', message: 'maximum size exceeded' });
          assert.equal(buffer.size, 0);
          return;
        }
        await buffer.write(Buffer.from(HELLO));
        assert.equal(buffer.spilled, tc.spills);
        assert.equal((await readAll(buffer.reader())).toString(), HELLO);
      } finally {
        await buffer.dispose();
      }
      assert.deepEqual(await spillFiles(), []);
    });
  }

  it('sends an empty buffer when nothing was written', async () => {
    const buffer = new SpillBuffer({ maxBytes: 2048, maxMemoryBytes: 1024, tmpDir: dir });
    assert.equal((await readAll(buffer.reader())).length, 0);
    await buffer.dispose();
  });
});

describe('SpillBuffer', () => {
  it('reads an empty body back as empty', async () => {
    const buffer = await bufferStream(sourceOf(), { maxBytes: 2048, maxMemoryBytes: 1024, tmpDir: dir });
    assert.equal(buffer.size, 0);
    assert.equal(buffer.spilled, false);
    assert.equal((await readAll(buffer.reader())).length, 0);
    await buffer.dispose();
  });

  it('spills past the memory limit to a 0600 proxy-buffer-* file removed by dispose', async () => {
    const buffer = new SpillBuffer({ maxBytes: 0, maxMemoryBytes: 10, tmpDir: dir });
    await buffer.write(Buffer.from('0123456'));
    assert.equal(buffer.spilled, false, 'no file while the body fits in memory');
    assert.deepEqual(await spillFiles(), []);
    await buffer.write(Buffer.from('789abcdef'));
    assert.equal(buffer.spilled, true);
    const [name, ...others] = await spillFiles();
    assert.ok(name !== undefined);
    assert.deepEqual(others, []);
    const info = await stat(join(dir, name));
    assert.equal(info.mode & 0o777, 0o600);
    assert.equal(info.size, 6, 'only what did not fit in memory goes to disk');
    assert.equal((await readAll(buffer.reader())).toString(), '0123456789abcdef');
    await buffer.dispose();
    await buffer.dispose(); // idempotent
    assert.deepEqual(await spillFiles(), []);
  });

  it('uses the OS temp dir when no tmpDir is given', async () => {
    const before = new Set((await readdir(tmpdir())).filter((n) => n.startsWith('proxy-buffer-')));
    const buffer = new SpillBuffer({ maxBytes: 0, maxMemoryBytes: 1 });
    await buffer.write(Buffer.from('spill me'));
    const created = (await readdir(tmpdir())).filter((n) => n.startsWith('proxy-buffer-') && !before.has(n));
    assert.equal(created.length, 1);
    await buffer.dispose();
    const left = (await readdir(tmpdir())).filter((n) => n === created[0]);
    assert.deepEqual(left, []);
  });

  it('accepts exactly maxBytes and refuses one byte more, discarding the spill at once', async () => {
    const buffer = new SpillBuffer({ maxBytes: 10, maxMemoryBytes: 4, tmpDir: dir });
    await buffer.write(Buffer.from('01234'));
    await buffer.write(Buffer.from('56789'));
    assert.equal(buffer.size, 10);
    assert.equal((await spillFiles()).length, 1);
    await assert.rejects(buffer.write(Buffer.from('x')), BodyTooLargeError);
    assert.equal(buffer.size, 10);
    assert.deepEqual(await spillFiles(), [], 'refusing the chunk discards what was held');
    // Sticky: the buffer is unusable from here on.
    await assert.rejects(buffer.write(Buffer.from('')), BodyTooLargeError);
    assert.throws(() => buffer.reader(), BodyTooLargeError);
    await buffer.dispose();
  });

  it('refuses writes after reader() and a second reader()', async () => {
    const buffer = new SpillBuffer({ maxBytes: 0, maxMemoryBytes: 1024, tmpDir: dir });
    await buffer.write(Buffer.from('abc'));
    const reader = buffer.reader();
    await assert.rejects(buffer.write(Buffer.from('d')), /write after read/);
    assert.throws(() => buffer.reader(), /only once/);
    assert.equal((await readAll(reader)).toString(), 'abc');
    await buffer.dispose();
    await assert.rejects(buffer.write(Buffer.from('e')));
  });

  it('keeps writes in order even when callers do not await them', async () => {
    const buffer = new SpillBuffer({ maxBytes: 0, maxMemoryBytes: 3, tmpDir: dir });
    const words = ['ab', 'cd', 'ef', 'gh', 'ij'];
    await Promise.all(words.map((w) => buffer.write(Buffer.from(w))));
    assert.equal((await readAll(buffer.reader())).toString(), words.join(''));
    await buffer.dispose();
  });

  it('reads back 50 MB byte-exact through memory and disk', async () => {
    const total = 50 * MiB;
    const buffer = await bufferStream(Readable.from(pattern(total, 7), { objectMode: false }), {
      maxBytes: 0,
      maxMemoryBytes: MiB,
      tmpDir: dir,
    });
    assert.equal(buffer.size, total);
    assert.equal(buffer.spilled, true);
    const hash = createHash('sha256');
    let length = 0;
    for await (const piece of buffer.reader()) {
      hash.update(piece as Buffer);
      length += (piece as Buffer).length;
    }
    await buffer.dispose();
    assert.equal(length, total);
    assert.equal(hash.digest('hex'), sha256(pattern(total, 7)));
    assert.deepEqual(await spillFiles(), []);
  });

  it('reader() applies back-pressure instead of loading the file', async () => {
    const buffer = await bufferStream(Readable.from(pattern(8 * MiB), { objectMode: false }), {
      maxBytes: 0,
      maxMemoryBytes: 64 * 1024,
      tmpDir: dir,
    });
    const reader = buffer.reader();
    reader.read(0); // start filling; nobody consumes
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    assert.ok(reader.readableLength > 0, 'the reader did start reading');
    assert.ok(reader.readableLength <= 128 * 1024, `reader buffered ${reader.readableLength} bytes`);
    await buffer.dispose();
  });

  it('dispose() during reading aborts the reader and removes the file', async () => {
    const buffer = await bufferStream(Readable.from(pattern(4 * MiB), { objectMode: false }), {
      maxBytes: 0,
      maxMemoryBytes: 1024,
      tmpDir: dir,
    });
    const reader = buffer.reader();
    // Settled into a value at once: the rejection comes while dispose() runs.
    const outcome = readAll(reader).then(
      () => undefined,
      (err: unknown) => err,
    );
    await new Promise((r) => setImmediate(r));
    await buffer.dispose();
    assert.ok((await outcome) instanceof Error, 'the reader ends in an error, not a clean end');
    assert.equal(reader.destroyed, true);
    assert.deepEqual(await spillFiles(), []);
  });
});

describe('bufferStream errors', () => {
  it('rejects with the source error, code kept, and leaves no temp file', async () => {
    const parseError = Object.assign(new Error('Parse Error: Invalid character in chunk size'), { code: 'HPE_INVALID_CHUNK_SIZE' });
    let pushed = 0;
    const source = new Readable({
      read() {
        if (pushed++ < 3) this.push(Buffer.alloc(4096, 1));
        else this.destroy(parseError);
      },
    });
    await assert.rejects(bufferStream(source, { maxBytes: 0, maxMemoryBytes: 1024, tmpDir: dir }), (err: unknown) => {
      assert.equal(err, parseError);
      assert.equal((err as NodeJS.ErrnoException).code, 'HPE_INVALID_CHUNK_SIZE');
      return true;
    });
    assert.deepEqual(await spillFiles(), []);
  });

  it('rejects with ERR_STREAM_PREMATURE_CLOSE when the source closes before its end', async () => {
    const source = new Readable({ read() {} });
    source.push(Buffer.from('partial'));
    setImmediate(() => source.destroy());
    await assert.rejects(bufferStream(source, { maxBytes: 0, maxMemoryBytes: 1, tmpDir: dir }), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
    assert.deepEqual(await spillFiles(), []);
  });

  it('over maxBytes leaves the source paused and undestroyed for the 413 answer', async () => {
    const source = Readable.from(pattern(4 * MiB), { objectMode: false });
    await assert.rejects(bufferStream(source, { maxBytes: MiB, maxMemoryBytes: 1024, tmpDir: dir }), BodyTooLargeError);
    assert.equal(source.destroyed, false);
    assert.equal(source.isPaused(), true);
    assert.equal(source.listenerCount('data'), 0);
    assert.deepEqual(await spillFiles(), []);
    source.destroy();
  });
});

describe('bufferStream on a real request', () => {
  // A node:http server on 127.0.0.1 whose handler hands the request to bufferStream.
  async function withServer(run: (port: number, outcome: Promise<SpillBuffer | Error>, received: Promise<void>) => Promise<void>): Promise<void> {
    let settle!: (v: SpillBuffer | Error) => void;
    const outcome = new Promise<SpillBuffer | Error>((r) => (settle = r));
    let receive!: () => void;
    const received = new Promise<void>((r) => (receive = r));
    const server = createServer((req: IncomingMessage, res) => {
      receive();
      bufferStream(req, { maxBytes: 0, maxMemoryBytes: 1024, tmpDir: dir }).then(settle, settle);
      res.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      await run((server.address() as AddressInfo).port, outcome, received);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  }

  it('buffers a chunked upload in full', async () => {
    await withServer(async (port, outcome) => {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      const body = Buffer.alloc(100_000, 'x');
      socket.write('POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n');
      socket.write(`${body.length.toString(16)}\r\n`);
      socket.write(body);
      socket.write('\r\n0\r\n\r\n');
      const buffer = await outcome;
      assert.ok(buffer instanceof SpillBuffer);
      assert.equal(buffer.size, body.length);
      assert.equal(buffer.spilled, true);
      assert.ok((await readAll(buffer.reader())).equals(body));
      await buffer.dispose();
      socket.destroy();
    });
  });

  it('rejects with ECONNRESET when the client goes away mid-body, leaving no temp file', async () => {
    await withServer(async (port, outcome, received) => {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.write('POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n');
      socket.write(Buffer.alloc(50_000, 'y'));
      // Gone once the server has the request (a client gone before that sent
      // no request at all), with most of its body still to come.
      await received;
      socket.destroy();
      const err = await outcome;
      assert.ok(err instanceof Error);
      assert.equal((err as NodeJS.ErrnoException).code, 'ECONNRESET');
      assert.deepEqual(await spillFiles(), []);
    });
  });
});

describe('bufferStream back-pressure', () => {
  it('keeps memory bounded while buffering a fast 200 MB source with 1 MiB of memory', async () => {
    const total = 200 * MiB;
    const chunkBytes = 64 * 1024;
    let produced = 0;
    // A source that can always produce at once: without back-pressure all of it
    // would queue up in memory ahead of the disk writes.
    const source = new Readable({
      highWaterMark: chunkBytes,
      read() {
        if (produced >= total) {
          this.push(null);
          return;
        }
        const n = Math.min(chunkBytes, total - produced);
        produced += n;
        this.push(Buffer.allocUnsafe(n).fill(produced & 0xff));
      },
    });
    gc();
    const base = process.memoryUsage();
    let peakRss = base.rss;
    let peakArrayBuffers = base.arrayBuffers;
    // No gc() while sampling: it would slow the run tenfold. Garbage 64 KiB
    // chunks awaiting collection stay around 20 MiB here, while a buffer that
    // ignored back-pressure grows by the whole 200 MB.
    const sample = () => {
      const now = process.memoryUsage();
      peakRss = Math.max(peakRss, now.rss);
      peakArrayBuffers = Math.max(peakArrayBuffers, now.arrayBuffers);
    };
    const timer = setInterval(sample, 5);
    try {
      const buffer = await bufferStream(source, { maxBytes: 0, maxMemoryBytes: MiB, tmpDir: dir });
      sample();
      assert.equal(buffer.size, total);
      await buffer.dispose();
    } finally {
      clearInterval(timer);
    }
    const rssGrowth = peakRss - base.rss;
    const arrayBufferGrowth = peakArrayBuffers - base.arrayBuffers;
    assert.ok(arrayBufferGrowth < 64 * MiB, `arrayBuffers grew by ${(arrayBufferGrowth / MiB).toFixed(1)} MiB`);
    assert.ok(rssGrowth < 64 * MiB, `rss grew by ${(rssGrowth / MiB).toFixed(1)} MiB`);
    assert.deepEqual(await spillFiles(), []);
  });
});
