import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Logger, formatTime, log } from '../../src/log/logger.ts';

const LOGGER_URL = pathToFileURL(join(import.meta.dirname, '../../src/log/logger.ts')).href;
const NOW = new Date('2026-11-23T23:45:57.123Z');

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'logger-test-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

let files = 0;
function fileLogger(opts: { debug?: boolean; now?: () => Date; bufferLimit?: number } = {}) {
  const path = join(dir, `log-${files++}.jsonl`);
  const fd = openSync(path, 'w');
  const logger = new Logger({ fd, now: () => NOW, ...opts });
  return {
    logger,
    text: () => readFileSync(path, 'utf8'),
    lines: () => readFileSync(path, 'utf8').split('\n').filter((l) => l !== ''),
    close: () => closeSync(fd),
  };
}

test('lines are slog JSON: time, level, msg, then attributes in order', () => {
  const f = fileLogger({ debug: true });
  f.logger.info('Server started', { http: 80, https: 443 });
  f.logger.debug('d');
  f.logger.warn('w', { a: 1 });
  f.logger.error('e');
  f.logger.flushSync();
  assert.deepEqual(f.lines(), [
    '{"time":"2026-11-23T23:45:57.123Z","level":"INFO","msg":"Server started","http":80,"https":443}',
    '{"time":"2026-11-23T23:45:57.123Z","level":"DEBUG","msg":"d"}',
    '{"time":"2026-11-23T23:45:57.123Z","level":"WARN","msg":"w","a":1}',
    '{"time":"2026-11-23T23:45:57.123Z","level":"ERROR","msg":"e"}',
  ]);
  f.close();
});

test('attribute values keep their JSON types', () => {
  const f = fileLogger();
  f.logger.info('types', {
    str: 'x',
    int: 42,
    neg: -1.5,
    big: 12345678901234567890n,
    yes: true,
    no: false,
    nil: null,
    undef: undefined,
    nan: NaN,
    list: ['a', 1],
    obj: { nested: { b: [true] } },
    err: new Error('connection refused'),
    at: new Date('2026-01-02T03:04:05Z'),
  });
  f.logger.flushSync();
  assert.equal(
    f.lines()[0],
    '{"time":"2026-11-23T23:45:57.123Z","level":"INFO","msg":"types","str":"x","int":42,"neg":-1.5,' +
      '"big":12345678901234567890,"yes":true,"no":false,"nil":null,"undef":null,"nan":null,"list":["a",1],' +
      '"obj":{"nested":{"b":[true]}},"err":"connection refused","at":"2026-01-02T03:04:05Z"}',
  );
  f.close();
});

test('values JSON cannot encode are logged as an !ERROR string, not thrown', () => {
  const f = fileLogger();
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  f.logger.info('bad', { circular, after: 1 });
  f.logger.flushSync();
  const parsed = JSON.parse(f.lines()[0]);
  assert.match(parsed.circular, /^!ERROR:/);
  assert.equal(parsed.after, 1);
  f.close();
});

test('formatTime is RFC 3339 in UTC with trailing zeros trimmed, like RFC3339Nano', () => {
  assert.equal(formatTime(new Date('2026-11-23T23:45:57.123Z')), '2026-11-23T23:45:57.123Z');
  assert.equal(formatTime(new Date('2026-11-23T23:45:57.120Z')), '2026-11-23T23:45:57.12Z');
  assert.equal(formatTime(new Date('2026-11-23T23:45:57.100Z')), '2026-11-23T23:45:57.1Z');
  assert.equal(formatTime(new Date('2026-11-23T23:45:57.000Z')), '2026-11-23T23:45:57Z');
  assert.equal(formatTime(new Date('2026-01-02T03:04:05.007+02:00')), '2026-01-02T01:04:05.007Z');
});

test('the time follows the clock', () => {
  let t = Date.parse('2026-11-23T23:45:57Z');
  const f = fileLogger({ now: () => new Date(t) });
  f.logger.info('a');
  t += 250;
  f.logger.info('b');
  f.logger.flushSync();
  assert.deepEqual(f.lines().map((l) => JSON.parse(l).time), ['2026-11-23T23:45:57Z', '2026-11-23T23:45:57.25Z']);
  f.close();
});

test('strings are escaped: quotes, backslashes, newlines, control characters, unicode', () => {
  const f = fileLogger();
  const nasty = 'say "hi"\\ \n\r\t\u0001 é 日本 😀 \u2028\u2029 </script>';
  f.logger.info(nasty, { [nasty]: nasty });
  f.logger.flushSync();
  const text = f.text();
  assert.equal(text.split('\n').length, 2, 'exactly one newline: the terminator');
  assert.ok(text.includes('\\u2028\\u2029'), 'line separators escaped as Go does');
  assert.ok(text.includes('\\"hi\\"\\\\ \\n\\r\\t\\u0001'));
  assert.ok(text.includes('é 日本 😀'), 'other unicode written as UTF-8');
  const parsed = JSON.parse(text);
  assert.equal(parsed.msg, nasty);
  assert.equal(parsed[nasty], nasty);
  f.close();
});

test('debug lines are dropped unless debug is enabled', () => {
  const f = fileLogger();
  f.logger.debug('hidden', { a: 1 });
  f.logger.info('shown');
  f.logger.debugEnabled = true;
  f.logger.debug('now shown');
  f.logger.flushSync();
  assert.deepEqual(f.lines().map((l) => JSON.parse(l).msg), ['shown', 'now shown']);
  assert.equal(new Logger({ debug: true }).debugEnabled, true);
  assert.equal(new Logger().debugEnabled, false);
  f.close();
});

test('logging does not write synchronously; lines follow in order, batched', async () => {
  const f = fileLogger();
  f.logger.info('first');
  assert.equal(f.text(), '', 'nothing written inside the logging call');
  for (let tick = 0; tick < 50; tick++) {
    for (let i = 0; i < 100; i++) f.logger.info('line', { seq: tick * 100 + i });
    await new Promise((resolve) => setImmediate(resolve));
  }
  await f.logger.flush();
  const seqs = f.lines().slice(1).map((l) => JSON.parse(l).seq);
  assert.equal(seqs.length, 5000);
  seqs.forEach((s, i) => assert.equal(s, i));
  f.close();
});

test('flushSync writes everything buffered, and nothing twice', async () => {
  const f = fileLogger();
  for (let i = 0; i < 2000; i++) f.logger.info('line', { seq: i });
  f.logger.flushSync();
  assert.equal(f.lines().length, 2000);
  await new Promise((resolve) => setTimeout(resolve, 20));
  await f.logger.flush();
  assert.equal(f.lines().length, 2000);
  f.close();
});

test('past the buffer limit, logging writes synchronously', () => {
  const f = fileLogger({ bufferLimit: 1000 });
  for (let i = 0; i < 100; i++) f.logger.info('line', { seq: i, pad: 'x'.repeat(50) });
  const written = f.lines().length;
  assert.ok(written >= 90, `most lines written already (${written})`);
  f.logger.flushSync();
  assert.deepEqual(f.lines().map((l) => JSON.parse(l).seq), [...Array(100).keys()]);
  f.close();
});

test('the process-wide logger is on stdout with debug off', () => {
  assert.ok(log instanceof Logger);
  assert.equal(log.debugEnabled, false);
});

// Through a real pipe: a child process logs to its stdout, which a shell pipes
// into `cat`, whose reader can be slow to start.
interface ChildResult { lines: string[]; stderr: string; code: number | null }

function runChild(body: string, readerDelaySeconds = 0): Promise<ChildResult> {
  const code = `import { Logger } from ${JSON.stringify(LOGGER_URL)};\n${body}`;
  const reader = readerDelaySeconds > 0 ? `(sleep ${readerDelaySeconds}; cat)` : 'cat';
  const child = spawn('sh', ['-c', `"$NODE" --input-type=module -e "$CHILD" | ${reader}`], {
    env: { ...process.env, NODE: process.execPath, CHILD: code },
  });
  let out = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => {
    child.on('close', (code) => resolve({ lines: out.split('\n').filter((l) => l !== ''), stderr, code }));
  });
}

function assertInOrder(lines: string[], total: number): void {
  assert.equal(lines.length, total);
  lines.forEach((line, i) => {
    const parsed = JSON.parse(line); // intact: every line parses
    assert.equal(parsed.seq, i);
    assert.equal(parsed.pad.length, 100);
  });
}

test('many lines logged quickly to a pipe arrive intact and in order', async () => {
  const r = await runChild(`
    const log = new Logger();
    let seq = 0;
    const burst = () => {
      for (let i = 0; i < 500; i++) log.info('line', { seq: seq++, pad: 'p'.repeat(100) });
      if (seq < 40000) setImmediate(burst);
    };
    burst();
  `);
  assert.equal(r.code, 0, r.stderr);
  assertInOrder(r.lines, 40000);
});

test('lines buffered at process.exit are written by flushSync', async () => {
  const r = await runChild(`
    const log = new Logger();
    for (let i = 0; i < 3000; i++) log.info('line', { seq: i, pad: 'p'.repeat(100) });
    log.flushSync();
    process.exit(0);
  `);
  assert.equal(r.code, 0, r.stderr);
  assertInOrder(r.lines, 3000);
});

test('the process-wide logger writes what it buffered when the process exits', async () => {
  const r = await runChild(`
    const { log } = await import(${JSON.stringify(LOGGER_URL)});
    for (let i = 0; i < 3000; i++) log.info('line', { seq: i, pad: 'p'.repeat(100) });
    process.exit(0);
  `);
  assert.equal(r.code, 0, r.stderr);
  assertInOrder(r.lines, 3000);
});

for (const nonBlocking of [false, true]) {
  // No timing assertion (timings are noise on this machine): what matters is
  // that a reader slower than the writer loses nothing and reorders nothing.
  test(`a slow reader gets every line, in order (${nonBlocking ? 'non-blocking' : 'blocking'} fd)`, async () => {
    // Touching process.stdout makes libuv set O_NONBLOCK on fd 1, so writes
    // fail with EAGAIN when the pipe is full instead of waiting.
    const r = await runChild(`
      ${nonBlocking ? 'process.stdout;' : ''}
      const log = new Logger({ bufferLimit: 16384 });
      const start = Date.now();
      for (let i = 0; i < 4000; i++) log.info('line', { seq: i, pad: 'p'.repeat(100) });
      process.stderr.write(String(Date.now() - start));
    `, 0.4);
    assert.equal(r.code, 0, r.stderr);
    // ~600 KB does not fit in the pipe, so the logger had to wait for the reader.
    assertInOrder(r.lines, 4000);
  });
}

test('with a write stuck, lines past the hard limit are dropped and counted', async () => {
  const r = await runChild(`
    const log = new Logger({ bufferLimit: 1000 });
    let seq = 0;
    const tick = () => {
      for (let i = 0; i < 5; i++) log.info('line', { seq: seq++, pad: 'p'.repeat(100) });
      if (seq < 5000) setImmediate(tick);
      else log.flush();
    };
    tick();
  `, 0.4);
  assert.equal(r.code, 0, r.stderr);
  let expected = 0;
  let dropped = 0;
  for (const line of r.lines) {
    const parsed = JSON.parse(line);
    if (parsed.msg === 'Log lines dropped') {
      assert.equal(parsed.level, 'WARN');
      dropped += parsed.count;
      continue;
    }
    assert.ok(parsed.seq >= expected, 'order kept');
    expected = parsed.seq + 1;
  }
  const kept = r.lines.filter((l) => l.includes('"msg":"line"')).length;
  assert.ok(dropped > 0, 'some lines were dropped');
  assert.equal(kept + dropped, 5000);
});
