import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeLabelValue, Exposition, formatValue, labelPairs } from '../../src/metrics/text-format.ts';
import { checkWellFormed } from './exposition.ts';

test("numbers are written as Go's strconv.FormatFloat(v, 'g', -1, 64), as client_golang writes them", () => {
  const cases: [number, string][] = [
    [0, '0'],
    [-0, '0'],
    [1, '1'],
    [-1, '-1'],
    [42, '42'],
    [0.005, '0.005'],
    [2.5, '2.5'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [0.000123, '0.000123'],
    [123456, '123456'],
    [999999.5, '999999.5'],
    [1e6, '1e+06'],
    [1234567, '1.234567e+06'],
    [78143488, '7.8143488e+07'],
    [1796196194, '1.796196194e+09'],
    [1e21, '1e+21'],
    [1.5e100, '1.5e+100'],
    [-2.5e-7, '-2.5e-07'],
    [0.1 + 0.2, '0.30000000000000004'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
    [NaN, 'NaN'],
  ];
  for (const [v, text] of cases) assert.equal(formatValue(v), text, String(v));
});

test('label values escape backslash, double quote and newline; label pairs are sorted by name', () => {
  assert.equal(escapeLabelValue('plain-name'), 'plain-name');
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.equal(labelPairs({ status: '200', method: 'GET', service: 'app' }), 'method="GET",service="app",status="200"');
  assert.equal(labelPairs({}), '');
});

test('families come out sorted by name, each with HELP and TYPE, and empty ones are left out', () => {
  const out = new Exposition();
  out.family('zeta_total', 'counter', 'Last, with a \\ and a\nnewline.').sample('', 3);
  out.family('empty_gauge', 'gauge', 'Never sampled.');
  out.family('alpha', 'gauge', 'First.').sample(labelPairs({ b: '2', a: '1' }), 0.5).sample(labelPairs({ a: 'x' }), 1e6);
  const text = out.text();
  assert.equal(
    text,
    [
      '# HELP alpha First.',
      '# TYPE alpha gauge',
      'alpha{a="1",b="2"} 0.5',
      'alpha{a="x"} 1e+06',
      '# HELP zeta_total Last, with a \\\\ and a\\nnewline.',
      '# TYPE zeta_total counter',
      'zeta_total 3',
      '',
    ].join('\n'),
  );
  checkWellFormed(text);
  assert.equal(new Exposition().text(), '');
});
