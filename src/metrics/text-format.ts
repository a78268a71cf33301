// Prometheus text exposition format 0.0.4, written as Go's client_golang
// writes it (what kamal-proxy's /metrics answers): HELP and TYPE lines per
// family, families sorted by name, a family with no series left out, label
// pairs sorted by name, numbers in Go's shortest %g form.

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricType = 'counter' | 'gauge' | 'histogram';

export class Exposition {
  readonly #families: Family[] = [];

  family(name: string, type: MetricType, help: string): Family {
    const family = new Family(name, type, help);
    this.#families.push(family);
    return family;
  }

  text(): string {
    const families = this.#families.filter((f) => !f.empty).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return families.map((f) => f.text()).join('');
  }
}

export class Family {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly #lines: string[] = [];

  constructor(name: string, type: MetricType, help: string) {
    this.name = name;
    this.type = type;
    this.help = help;
  }

  get empty(): boolean {
    return this.#lines.length === 0;
  }

  // labels: pairs already formatted and sorted (labelPairs), '' for none;
  // suffix: _bucket, _sum, _count for a histogram's lines.
  sample(labels: string, value: number, suffix = ''): this {
    this.#lines.push(`${this.name}${suffix}${labels === '' ? '' : `{${labels}}`} ${formatValue(value)}\n`);
    return this;
  }

  text(): string {
    return `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n${this.#lines.join('')}`;
  }
}

// `a="x",b="y"`, sorted by label name as client_golang sorts them.
export function labelPairs(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort()
    .map((name) => `${name}="${escapeLabelValue(labels[name]!)}"`)
    .join(',');
}

// A histogram bucket's pairs: `le` always comes last.
export function withLe(labels: string, le: string): string {
  return labels === '' ? `le="${le}"` : `${labels},le="${le}"`;
}

export function escapeLabelValue(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : value;
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

// strconv.FormatFloat(v, 'g', -1, 64): the shortest digits that read back
// as v, in exponent form below 1e-4 and from 1e6 up (a counter of 1234567
// reads 1.234567e+06, as in every Go exporter's output).
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return '0'; // -0 too, as expfmt writes it
  const [mantissa, exp] = v.toExponential().split('e') as [string, string];
  const e = Number(exp);
  if (e >= -4 && e < 6) return String(v);
  const digits = Math.abs(e) < 10 ? `0${Math.abs(e)}` : String(Math.abs(e));
  return `${mantissa}e${e < 0 ? '-' : '+'}${digits}`;
}
