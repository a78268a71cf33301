// kamal-proxy's request metrics (internal/metrics/metrics.go), same names,
// labels and help texts:
//   kamal_proxy_http_requests_total{service,method,status}           counter
//   kamal_proxy_http_request_duration_seconds{service,method,status} histogram
//   kamal_proxy_http_in_flight_requests{service}                     gauge
//
// The hot path only bumps numbers in slots found by Map lookups: one slot
// per (service, method, status), made the first time that combination is
// seen and kept for good, as a client_golang vector keeps its children.
// Label strings are built then, and the text only when scraped.
import { DEFAULT_BUCKETS, Histogram } from './histogram.ts';
import { type Exposition, labelPairs } from './text-format.ts';

// Go's net/http method constants; anything else is counted as OTHER, so a
// client cannot grow the series without bound.
export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE'] as const;
const OTHER = METHODS.length;

function methodIndex(method: string | undefined): number {
  switch (method) {
    case 'GET': return 0;
    case 'HEAD': return 1;
    case 'POST': return 2;
    case 'PUT': return 3;
    case 'PATCH': return 4;
    case 'DELETE': return 5;
    case 'CONNECT': return 6;
    case 'OPTIONS': return 7;
    case 'TRACE': return 8;
    default: return OTHER;
  }
}

export function normalizeMethod(method: string | undefined): string {
  return METHODS[methodIndex(method)] ?? 'OTHER';
}

// One (service, method, status): its duration histogram, whose count is
// also the request counter.
class RequestSeries {
  readonly service: string;
  readonly method: string;
  readonly status: string;
  readonly labels: string;
  readonly duration = new Histogram(DEFAULT_BUCKETS);

  constructor(service: string, method: string, status: number) {
    this.service = service;
    this.method = method;
    this.status = String(status);
    this.labels = labelPairs({ method, service, status: this.status });
  }
}

// A service's slots, and its requests in flight right now.
export class ServiceMetrics {
  readonly name: string;
  inFlight = 0;
  // The gauge appears once the service has had a request, as a GaugeVec's child does.
  inFlightSeen = false;
  // Per method index: status -> series.
  readonly byMethod: (Map<number, RequestSeries> | undefined)[] = new Array(OTHER + 1).fill(undefined);

  constructor(name: string) {
    this.name = name;
  }

  started(): void {
    this.inFlight++;
    this.inFlightSeen = true;
  }

  ended(): void {
    this.inFlight--;
  }
}

export class HttpMetrics {
  readonly #services = new Map<string, ServiceMetrics>();
  // Requests no service matched (404, a bad Host...): service="".
  readonly unrouted: ServiceMetrics = this.service('');

  service(name: string): ServiceMetrics {
    let s = this.#services.get(name);
    if (s === undefined) this.#services.set(name, (s = new ServiceMetrics(name)));
    return s;
  }

  observe(service: ServiceMetrics, method: string | undefined, status: number, seconds: number): void {
    const m = methodIndex(method);
    const byStatus = (service.byMethod[m] ??= new Map());
    let series = byStatus.get(status);
    if (series === undefined) byStatus.set(status, (series = new RequestSeries(service.name, METHODS[m] ?? 'OTHER', status)));
    series.duration.observe(seconds);
  }

  // What a data-plane worker counted, as plain data for the main thread,
  // which adds every worker's into one exposition (absorb).
  dump(): HttpMetricsDump {
    return [...this.#services.values()].map((s) => ({
      service: s.name,
      inFlight: s.inFlight,
      inFlightSeen: s.inFlightSeen,
      series: s.byMethod.flatMap((byStatus, m) =>
        byStatus === undefined ? [] : [...byStatus].map(([status, series]) => ({ method: m, status, values: series.duration.values() })),
      ),
    }));
  }

  absorb(dump: HttpMetricsDump): void {
    for (const d of dump) {
      const s = this.service(d.service);
      s.inFlight += d.inFlight;
      s.inFlightSeen ||= d.inFlightSeen;
      for (const { method, status, values } of d.series) {
        const byStatus = (s.byMethod[method] ??= new Map());
        let series = byStatus.get(status);
        if (series === undefined) byStatus.set(status, (series = new RequestSeries(s.name, METHODS[method] ?? 'OTHER', status)));
        series.duration.add(values);
      }
    }
  }

  write(out: Exposition): void {
    const services = [...this.#services.values()];
    const series = services.flatMap((s) => s.byMethod.flatMap((byStatus) => (byStatus === undefined ? [] : [...byStatus.values()])));
    // Sorted by label values in label-name order (method, service, status), as client_golang does.
    series.sort((a, b) => compare(a.method, b.method) || compare(a.service, b.service) || compare(a.status, b.status));

    const gauge = out.family('kamal_proxy_http_in_flight_requests', 'gauge', 'Number of in-flight HTTP requests, labeled by service.');
    for (const s of services.filter((s) => s.inFlightSeen).sort((a, b) => compare(a.name, b.name))) gauge.sample(labelPairs({ service: s.name }), s.inFlight);

    const duration = out.family('kamal_proxy_http_request_duration_seconds', 'histogram', 'Duration of HTTP requests, labeled by service, status code and method.');
    for (const s of series) s.duration.write(duration, s.labels);

    const total = out.family('kamal_proxy_http_requests_total', 'counter', 'HTTP requests processed, labeled by service, status code and method.');
    for (const s of series) total.sample(s.labels, s.duration.count);
  }
}

export type HttpMetricsDump = {
  service: string;
  inFlight: number;
  inFlightSeen: boolean;
  series: { method: number; status: number; values: Float64Array }[];
}[];

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
