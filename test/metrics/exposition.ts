// Reading what the metrics port answers, for tests: parsed by the official
// Prometheus client's text parser (Debian's python3-prometheus-client,
// prometheus_client.parser), plus the checks a parser leaves out: every
// family has its HELP and TYPE lines first, appears once, and every sample
// line has the strict shape.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

export interface PromData {
  labels: Record<string, string>;
  value: number;
}
export interface PromHistogramData {
  labels: Record<string, string>;
  buckets: Record<string, number>; // by `le`, as written ("0.005", "+Inf")
  count: number;
  sum: number;
}
export interface PromFamily {
  type: string;
  help: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}
export type PromMetrics = Record<string, PromFamily>;

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
const VALUE = '(?:[-+]?(?:\\d+(?:\\.\\d+)?(?:e[-+]\\d+)?|Inf)|NaN)';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(${LABEL}(?:,${LABEL})*)\\})? (${VALUE})$`);

// Families by the name their TYPE line gives (the parser names a counter
// without its _total); a histogram's samples are its _bucket, _sum and _count
// lines (infinities come back as null from JSON, and are read as Infinity).
const PARSE = `
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for f in text_string_to_metric_families(sys.stdin.read()):
    name = f.name + "_total" if f.type == "counter" else f.name
    if name in out: raise SystemExit("family %s twice" % name)
    value = lambda v: v if math.isfinite(v) else repr(v)
    out[name] = {"type": f.type, "help": f.documentation, "samples": [{"name": s.name, "labels": s.labels, "value": value(s.value)} for s in f.samples]}
print(json.dumps(out))
`;

export async function parseExposition(text: string): Promise<PromMetrics> {
  checkWellFormed(text);
  const json = execFileSync('/usr/bin/python3', ['-c', PARSE], { input: text, encoding: 'utf8' });
  // Infinities and NaN come as Python's words for them.
  const number = (v: unknown) => (v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === 'nan' ? NaN : v);
  return JSON.parse(json, (k, v: unknown) => (k === 'value' ? number(v) : v)) as PromMetrics;
}

export function checkWellFormed(text: string): void {
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const seen = new Set<string>();
  let family = '';
  let type = '';
  const lines = text.slice(0, -1).split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const help = /^# HELP (\S+) (.*)$/.exec(line);
    if (help) {
      assert.ok(!seen.has(help[1]!), `family ${help[1]} appears once`);
      seen.add(help[1]!);
      family = help[1]!;
      const typeLine = /^# TYPE (\S+) (counter|gauge|histogram)$/.exec(lines[i + 1] ?? '');
      assert.ok(typeLine && typeLine[1] === family, `TYPE follows HELP for ${family}`);
      type = typeLine[2]!;
      i++;
      continue;
    }
    const m = SAMPLE.exec(line);
    assert.ok(m, `a sample line: ${JSON.stringify(line)}`);
    const name = m[1]!;
    const suffixes = type === 'histogram' ? ['_bucket', '_sum', '_count'] : [''];
    assert.ok(suffixes.some((s) => name === family + s), `${name} belongs to family ${family} (${type})`);
  }
  const names = [...seen];
  assert.deepEqual(names, [...names].sort(), 'families sorted by name');
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

// The value of a counter or gauge series; undefined when there is none.
export function value(m: PromMetrics, name: string, labels: Record<string, string> = {}): number | undefined {
  return series(m, name).find((d) => sameLabels(d.labels, labels))?.value;
}

// Every series of a counter or gauge family, as label sets with values.
export function series(m: PromMetrics, name: string): PromData[] {
  return (m[name]?.samples ?? []).filter((s) => s.name === name || s.name === `${name}_total`).map((s) => ({ labels: s.labels, value: s.value }));
}

export function histogram(m: PromMetrics, name: string, labels: Record<string, string>): PromHistogramData | undefined {
  const f = m[name];
  if (f === undefined) return undefined;
  assert.equal(f.type, 'histogram', `${name} is a histogram`);
  const own = f.samples.filter((s) => {
    const { le: _le, ...rest } = s.labels;
    return sameLabels(rest, labels);
  });
  if (own.length === 0) return undefined;
  const buckets: Record<string, number> = {};
  let count = NaN;
  let sum = NaN;
  for (const s of own) {
    if (s.name === `${name}_bucket`) buckets[s.labels.le!] = s.value;
    else if (s.name === `${name}_count`) count = s.value;
    else if (s.name === `${name}_sum`) sum = s.value;
  }
  return { labels, buckets, count, sum };
}

// Buckets in le order never decrease, and +Inf is the count (the parser
// checks that too).
export function assertHistogramShape(h: PromHistogramData, bounds: readonly number[]): void {
  // In bound order (an object puts integer-like keys such as "1" first).
  const les = Object.keys(h.buckets).sort((a, b) => Number(a.replace('+Inf', 'Infinity')) - Number(b.replace('+Inf', 'Infinity')));
  assert.deepEqual(les, [...bounds.map(String), '+Inf'], 'the bucket bounds');
  let previous = 0;
  for (const le of les) {
    assert.ok(h.buckets[le]! >= previous, `bucket le=${le} is cumulative`);
    previous = h.buckets[le]!;
  }
  assert.equal(h.buckets['+Inf'], h.count, '+Inf is the count');
}
