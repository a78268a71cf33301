// Periodic health checks of one target: GET <path> on the target (or on
// --health-check-port), any 2xx is healthy. The first check runs at once, then
// one per interval, each with its own timeout, as in kamal-proxy.
import { undici } from '../http/undici.ts';
import { acceptBareLf } from '../http/undici-bare-lf.ts';
import type { Dispatcher } from 'undici';
import { HEALTH_CHECK_USER_AGENT, MAX_HEADER_SIZE_BYTES } from '../config/defaults.ts';
import { log } from '../log/logger.ts';
import type { HealthCheckConfig } from '../config/service-options.ts';
import { upstreamChoice } from '../upstream/client-choice.ts';
import { UPSTREAM_CONNECT_WAIT, UPSTREAM_TIMEOUT } from '../upstream/errors.ts';
import type { UpstreamController, UpstreamHandler } from '../upstream/exchange.ts';
import { Http1Pool } from '../upstream/http1-pool.ts';

export interface HealthCheckConsumer {
  healthCheckCompleted(success: boolean): void;
}

// Shared by the checks that go through undici (below). Redirects are followed
// because Go's default HTTP client, which kamal-proxy uses for checks, follows them.
let agent: Dispatcher | null = null;
function checkAgent(): Dispatcher {
  const { Agent, redirectInterceptor } = undici();
  // Bare-LF responses pass, as they do when proxied.
  agent ??= acceptBareLf(new Agent({ keepAliveTimeout: 1_000 })).compose(redirectInterceptor({ maxRedirections: 10 }));
  return agent;
}

// Checks go through our own client (http1-pool.ts), on the parser and the
// lenient flags proxied responses get, whenever proxied requests do: undici's
// parser is WebAssembly, and V8 compiling it (once checks run often enough)
// leaves about 9 MB of freed memory in malloc's heap for good, besides what
// undici itself holds (bench/README.md, "Memory after 100 deploys through the
// CLI"). A check answered with a redirect is made again through undici, which
// follows it.
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const HEADER_VALUE = /^[^\r\n\0]*$/; // what our client writes as given

type Outcome = { ok: boolean; error?: string };

function healthCheckUrl(host: string, port: number, config: HealthCheckConfig): string {
  const path = config.path.startsWith('/') ? config.path : `/${config.path}`;
  return `http://${host}:${config.port || port}${path}`;
}

export class HealthCheck {
  readonly url: string;
  readonly #origin: string;
  readonly #path: string;
  readonly #config: HealthCheckConfig;
  readonly #hostHeader: string;
  readonly #consumer: HealthCheckConsumer;
  readonly #host: string;
  readonly #port: number;
  #pool: Http1Pool | null = null;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(host: string, port: number, config: HealthCheckConfig, consumer: HealthCheckConsumer) {
    this.url = healthCheckUrl(host, port, config);
    const u = new URL(this.url);
    this.#origin = u.origin;
    this.#path = u.pathname + u.search;
    this.#config = config;
    this.#hostHeader = config.host || `${host}:${port}`;
    this.#consumer = consumer;
    this.#host = host;
    this.#port = config.port || port;
  }

  start(): void {
    void this.#run();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#pool?.close();
    this.#pool = null;
  }

  async check(): Promise<Outcome> {
    if (upstreamChoice().client !== 'native' || !HEADER_VALUE.test(this.#hostHeader)) return this.#checkWithUndici();
    const result = await this.#checkNative();
    return result === 'redirect' ? this.#checkWithUndici() : result;
  }

  #checkNative(): Promise<Outcome | 'redirect'> {
    const timeoutMs = this.#config.timeoutMs;
    const pool = (this.#pool ??= new Http1Pool(this.#host, this.#port, {
      maxBusy: 1,
      rampInitial: 1,
      rampThreshold: 1,
      patienceMs: timeoutMs,
      maxIdle: 1,
      keepAliveTimeoutMs: 1_000,
      maxHeaderSize: MAX_HEADER_SIZE_BYTES,
      refusedRetryMs: 0, // a refused connect fails the check at once, as in undici
      retryBackoffMs: 0,
    }));
    return new Promise((resolve) => {
      let controller: UpstreamController | null = null;
      let status = 0;
      let redirect = false;
      const timedOut = new Error('timeout');
      const timer = setTimeout(() => controller?.abort(timedOut), timeoutMs).unref();
      const done = (outcome: Outcome | 'redirect') => {
        clearTimeout(timer);
        resolve(outcome);
      };
      const request = { method: 'GET', path: this.#path, headers: ['host', this.#hostHeader, 'user-agent', HEALTH_CHECK_USER_AGENT], body: null };
      const handler: UpstreamHandler = {
        onRequestStart: (c) => (controller = c),
        onResponseStart: (_c, s, headers) => {
          status = s;
          redirect = REDIRECTS.has(s) && headers.location !== undefined;
        },
        onResponseData: () => {},
        onResponseEnd: () => {
          if (redirect) done('redirect');
          else done(status >= 200 && status < 300 ? { ok: true } : { ok: false, error: `unexpected status ${status}` });
        },
        onResponseError: (_c, err) => {
          const code = (err as { code?: unknown }).code;
          const timeout = err === timedOut || code === UPSTREAM_TIMEOUT || code === UPSTREAM_CONNECT_WAIT;
          done({ ok: false, error: timeout ? 'timeout' : err.message });
        },
      };
      pool.dispatch(request, handler, timeoutMs);
    });
  }

  async #checkWithUndici(): Promise<Outcome> {
    try {
      const res = await checkAgent().request({
        origin: this.#origin,
        path: this.#path,
        method: 'GET',
        headers: { host: this.#hostHeader, 'user-agent': HEALTH_CHECK_USER_AGENT },
        signal: AbortSignal.timeout(this.#config.timeoutMs),
      });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true };
      return { ok: false, error: `unexpected status ${res.statusCode}` };
    } catch (err) {
      const e = err as Error;
      return { ok: false, error: e.name === 'TimeoutError' ? 'timeout' : e.message };
    }
  }

  async #run(): Promise<void> {
    this.#timer = null;
    if (this.#stopped) return;
    const result = await this.check();
    if (this.#stopped) return;
    if (!result.ok) log.info('Healthcheck failed', { url: this.url, error: result.error });
    this.#consumer.healthCheckCompleted(result.ok);
    if (!this.#stopped) this.#timer = setTimeout(() => void this.#run(), this.#config.intervalMs);
  }
}

// One readiness probe with the service's health-check settings (a wake).
export async function probeOnce(host: string, port: number, config: HealthCheckConfig): Promise<boolean> {
  const check = new HealthCheck(host, port, config, { healthCheckCompleted() {} });
  try {
    return (await check.check()).ok;
  } finally {
    check.stop();
  }
}
