// The byte buffer behind the logger: lines come out whole and in order, and
// bytes handed out for a write are never overwritten until they are given back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineBuffer } from '../../src/log/line-buffer.ts';

test('lines come out as UTF-8, in order, across chunk boundaries and for oversized lines', () => {
  const b = new LineBuffer();
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) lines.push(`{"seq":${i},"text":"naïve – 日本 – 🙂"}\n`);
  lines.push(`{"big":"${'x'.repeat(300_000)}"}\n`); // larger than a chunk
  lines.push('{"after":"the big one"}\n');
  for (const l of lines) b.append(l);
  const expected = Buffer.from(lines.join(''));
  assert.equal(b.size, expected.length);
  const out = b.take();
  assert.equal(b.size, 0);
  assert.ok(out.equals(expected));
});

test('bytes taken for a write stay intact while more lines arrive; lines after a release come out right', () => {
  const b = new LineBuffer();
  b.append('a'.repeat(1000));
  const first = b.take();
  for (let i = 0; i < 200; i++) b.append('b'.repeat(1000)); // fills and seals chunks
  assert.equal(first.toString(), 'a'.repeat(1000), 'nothing wrote into bytes out for writing');
  const second = b.take();
  assert.equal(second.toString(), 'b'.repeat(200_000));
  b.release(first);
  b.append('c'.repeat(10));
  b.append('d'.repeat(10));
  assert.equal(b.take().toString(), 'c'.repeat(10) + 'd'.repeat(10));
  assert.equal(b.take().length, 0, 'nothing waiting: an empty buffer');
});

test('an empty JSON string, also from past its end, gets both quotes when one byte is left in a chunk', () => {
  for (const [s, from] of [['', 0], ['', 1], ['?', 1]] as const) {
    const out = new LineBuffer();
    out.bytes(Buffer.alloc(128 * 1024 - 1, 0x61)); // the chunk's size less one byte
    out.jsonString(s, from);
    out.bytes(Buffer.from(','));
    const bytes = out.take();
    assert.equal(bytes.length, 128 * 1024 + 2, `${JSON.stringify(s)} from ${from}`);
    assert.equal(bytes.subarray(-3).toString(), '"",');
  }
});
