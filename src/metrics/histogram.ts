// A Prometheus histogram: counts per bucket, kept per bucket (not
// cumulative) in one typed array, so an observation allocates nothing;
// made cumulative only when written out.
import { type Family, formatValue, withLe } from './text-format.ts';

// client_golang's prometheus.DefBuckets, which kamal-proxy's request
// duration uses.
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const COUNT = 0;
const SUM = 1;
const FIRST_BUCKET = 2;

export class Histogram {
  readonly bounds: Float64Array;
  // [count, sum, bucket 0, ..., bucket n-1]: bucket i counts observations
  // above bound i-1 and up to bound i; above the last bound only count does.
  readonly #data: Float64Array;

  constructor(bounds: readonly number[]) {
    this.bounds = Float64Array.from(bounds);
    this.#data = new Float64Array(FIRST_BUCKET + bounds.length);
  }

  get count(): number {
    return this.#data[COUNT]!;
  }

  get sum(): number {
    return this.#data[SUM]!;
  }

  observe(value: number): void {
    const data = this.#data;
    const bounds = this.bounds;
    data[COUNT]!++;
    data[SUM]! += value;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    if (i < bounds.length) data[FIRST_BUCKET + i]!++;
  }

  // The raw numbers, for another thread to add up (data-plane workers).
  values(): Float64Array {
    return this.#data.slice();
  }

  add(values: Float64Array): void {
    const data = this.#data;
    for (let i = 0; i < data.length && i < values.length; i++) data[i]! += values[i]!;
  }

  // _bucket lines (cumulative, +Inf last), _sum and _count.
  write(family: Family, labels: string): void {
    const data = this.#data;
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += data[FIRST_BUCKET + i]!;
      family.sample(withLe(labels, formatValue(this.bounds[i]!)), cumulative, '_bucket');
    }
    family.sample(withLe(labels, '+Inf'), data[COUNT]!, '_bucket');
    family.sample(labels, data[SUM]!, '_sum');
    family.sample(labels, data[COUNT]!, '_count');
  }
}
