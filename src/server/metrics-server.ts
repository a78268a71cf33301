// The metrics port (`run --metrics-port`): every path answers the metrics in
// Prometheus text format, as kamal-proxy's promhttp handler does, except our
// status page (GET / from a browser) and its JSON (GET /status.json). Its
// requests are not logged, as kamal-proxy's are not. Everything is read at
// scrape time; between scrapes only the request path's counters move.
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import http from '../http/node-http.ts';
import { log } from '../log/logger.ts';
import { HttpMetrics } from '../metrics/http-metrics.ts';
import { type NapSample, writeNapMetrics } from '../metrics/nap-metrics.ts';
import { ProcessMetrics } from '../metrics/process-metrics.ts';
import { CONTENT_TYPE, Exposition } from '../metrics/text-format.ts';
import { type ThreadMetrics, writeThreadMetrics } from '../metrics/thread-metrics.ts';
import type { Router } from '../router/router.ts';
import { statusJson, statusPage } from '../status/status.ts';
import { listenTcp } from '../util/listen.ts';

// Scrapes are short: at stop, what is still open after this is closed.
const STOP_GRACE_MS = 1_000;

export class MetricsServer {
  // What the client listeners count requests in.
  readonly httpMetrics = new HttpMetrics();
  readonly #process = new ProcessMetrics();
  readonly #router: Router;
  readonly #port: number;
  readonly #bindAddress: string | undefined;
  readonly #server: HttpServer;
  // What the data-plane workers counted, if there are any.
  #otherThreads: () => Promise<ThreadMetrics[]> = () => Promise.resolve([]);

  constructor(router: Router, port: number, bindAddress?: string) {
    this.#router = router;
    this.#port = port;
    this.#bindAddress = bindAddress;
    this.#server = http.createServer((req, res) => void this.#handle(req, res));
  }

  // The port actually bound.
  get port(): number {
    const a = this.#server.address();
    return typeof a === 'object' && a !== null ? a.port : this.#port;
  }

  async start(): Promise<void> {
    await listenTcp(this.#server, this.#port, this.#bindAddress);
    log.info('Metrics enabled', { address: `${this.#bindAddress ?? ''}:${this.#port}` });
  }

  async stop(): Promise<void> {
    this.#process.close();
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    const timer = setTimeout(() => this.#server.closeAllConnections(), STOP_GRACE_MS);
    await closed;
    clearTimeout(timer);
  }

  addThreads(otherThreads: () => Promise<ThreadMetrics[]>): void {
    this.#otherThreads = otherThreads;
  }

  // The whole exposition, as GET /metrics answers it: every thread's counts
  // added up.
  async scrape(): Promise<string> {
    const out = new Exposition();
    const others = await this.#otherThreads();
    let http = this.httpMetrics;
    if (others.length > 0) {
      const own = this.httpMetrics.dump();
      http = new HttpMetrics();
      http.absorb(own);
      for (const o of others) if (o.http !== null) http.absorb(o.http);
      http.write(out);
      writeThreadMetrics(out, [{ thread: 0, http: own }, ...others]);
    } else http.write(out);
    writeNapMetrics(out, napSamples(this.#router, others));
    await this.#process.write(out);
    return out.text();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.resume();
    try {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const path = q === -1 ? url : url.slice(0, q);
      if (req.method === 'GET' && path === '/status.json') return send(res, 'application/json', statusJson(this.#router, await this.#otherThreads()));
      if (req.method === 'GET' && path === '/' && (req.headers.accept ?? '').includes('text/html')) {
        return send(res, 'text/html; charset=utf-8', statusPage(this.#router, await this.#otherThreads()));
      }
      send(res, CONTENT_TYPE, await this.scrape());
    } catch (err) {
      // A scrape that cannot be made is a 500 with the reason, as promhttp answers.
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`An error has occurred while serving metrics:\n\n${(err as Error).message}\n`);
      else res.destroy();
    }
  }
}

function send(res: ServerResponse, contentType: string, body: string): void {
  res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) }).end(body);
}

function napSamples(router: Router, others: readonly ThreadMetrics[]): NapSample[] {
  const samples: NapSample[] = [];
  for (const s of router.services()) {
    const napper = s.napper;
    if (napper === null) continue;
    const stats = napper.stats;
    const held = others.flatMap((o) => o.held.filter((h) => h.service === s.name));
    samples.push({
      service: s.name,
      state: napper.state,
      wakes: stats.wakes,
      wakeDuration: stats.wakeDuration,
      heldNow: held.reduce((sum, h) => sum + h.now, stats.heldNow),
      heldTotal: held.reduce((sum, h) => sum + h.total, stats.heldTotal),
      memoryAtSleepBytes: stats.memoryAtSleepBytes,
    });
  }
  return samples;
}
