import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatGoDuration, parseGoDuration } from '../../src/util/go-duration.ts';

describe('parseGoDuration', () => {
  it('parses Go duration syntax into milliseconds', () => {
    const cases: Array<[string, number]> = [
      ['30s', 30_000],
      ['1m30s', 90_000],
      ['500ms', 500],
      ['1.5s', 1_500],
      ['-1h', -3_600_000],
      ['+5s', 5_000],
      ['1h2m3.5s', 3_723_500],
      ['300us', 0.3],
      ['1µs', 0.001], // U+00B5
      ['1μs', 0.001], // U+03BC
      ['2ns', 0.000002],
      ['.5s', 500],
      ['1.s', 1_000],
      ['0.1h', 360_000],
      ['1s1s', 2_000], // units may repeat
      ['0s', 0],
    ];
    for (const [text, ms] of cases) assert.equal(parseGoDuration(text), ms, text);
  });

  it('accepts a bare zero, with or without sign, and never returns -0', () => {
    assert.equal(parseGoDuration('0'), 0);
    assert.ok(Object.is(parseGoDuration('-0'), 0));
    assert.ok(Object.is(parseGoDuration('-0s'), 0));
    assert.equal(parseGoDuration('+0'), 0);
  });

  it('stops reading fraction digits past int64 precision, as Go does', () => {
    assert.equal(parseGoDuration('1.0000000000000000000000001s'), 1_000);
  });

  it('fails with Go messages', () => {
    const cases: Array<[string, string]> = [
      ['abc', 'time: invalid duration "abc"'],
      ['', 'time: invalid duration ""'],
      ['-', 'time: invalid duration "-"'],
      ['.s', 'time: invalid duration ".s"'],
      ['s', 'time: invalid duration "s"'],
      ['30', 'time: missing unit in duration "30"'],
      ['1.5', 'time: missing unit in duration "1.5"'],
      ['1s30', 'time: missing unit in duration "1s30"'],
      ['30x', 'time: unknown unit "x" in duration "30x"'],
      ['1e3s', 'time: unknown unit "e" in duration "1e3s"'],
      ['1S', 'time: unknown unit "S" in duration "1S"'],
      ['3"s', 'time: unknown unit "\\"s" in duration "3\\"s"'],
      // the time package writes non-ASCII as \x escapes of its UTF-8 bytes
      ['1µx', 'time: unknown unit "\\xc2\\xb5x" in duration "1\\xc2\\xb5x"'],
    ];
    for (const [text, message] of cases) {
      assert.throws(() => parseGoDuration(text), { message }, JSON.stringify(text));
    }
  });

  it('rejects durations outside int64 nanoseconds', () => {
    assert.equal(parseGoDuration('2562047h47m16.854775807s'), 9_223_372_036_854.775807);
    assert.throws(() => parseGoDuration('2562047h47m16.854775808s'), {
      message: 'time: invalid duration "2562047h47m16.854775808s"',
    });
    // the negative range is one nanosecond larger
    assert.equal(parseGoDuration('-2562047h47m16.854775808s'), -9_223_372_036_854.775808);
    assert.throws(() => parseGoDuration('9223372036854775808ns'), { message: /invalid duration/ });
    assert.throws(() => parseGoDuration('99999999999999999999s'), { message: /invalid duration/ });
    assert.throws(() => parseGoDuration('3000000h'), { message: /invalid duration/ });
  });
});

describe('formatGoDuration', () => {
  it('formats like time.Duration.String', () => {
    const cases: Array<[number, string]> = [
      [0, '0s'],
      [30_000, '30s'],
      [90_000, '1m30s'],
      [500, '500ms'],
      [3_600_000, '1h0m0s'],
      [3_723_500, '1h2m3.5s'],
      [1_500, '1.5s'],
      [0.002, '2µs'],
      [0.0015, '1.5µs'],
      [0.000002, '2ns'],
      [1.000001, '1.000001ms'],
      [60_000, '1m0s'],
      [-1_500, '-1.5s'],
      [-0.5, '-500µs'],
      [100 * 3_600_000, '100h0m0s'],
    ];
    for (const [ms, text] of cases) assert.equal(formatGoDuration(ms), text, String(ms));
  });

  it('round-trips what it parses', () => {
    for (const text of ['30s', '1m30s', '500ms', '1h0m0s', '1.5s', '2µs', '2ns', '-1h2m3.5s', '1.234567ms']) {
      assert.equal(formatGoDuration(parseGoDuration(text)), text);
    }
  });

  it('refuses non-finite input', () => {
    assert.throws(() => formatGoDuration(Number.NaN), RangeError);
    assert.throws(() => formatGoDuration(Infinity), RangeError);
  });
});
