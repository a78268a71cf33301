// Periodic health checks of one target: GET <path> on the target (or on
// --health-check-port), any 2xx is healthy. The first check runs at once, then
// one per interval, each with its own timeout, as in kamal-proxy.
import { undici } from '../http/undici.ts';
import { acceptBareLf } from '../http/undici-bare-lf.ts';
import type { Dispatcher } from 'undici';
import { HEALTH_CHECK_USER_AGENT } from '../config/defaults.ts';
import { log } from '../log/logger.ts';
import type { HealthCheckConfig } from '../config/service-options.ts';

export interface HealthCheckConsumer {
  healthCheckCompleted(success: boolean): void;
}

// Shared by every check. Redirects are followed because Go's default HTTP
// client, which kamal-proxy uses for checks, follows them.
let agent: Dispatcher | null = null;
function checkAgent(): Dispatcher {
  const { Agent, redirectInterceptor } = undici();
  // Bare-LF responses pass, as they do when proxied.
  agent ??= acceptBareLf(new Agent({ keepAliveTimeout: 1_000 })).compose(redirectInterceptor({ maxRedirections: 10 }));
  return agent;
}

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
  }

  start(): void {
    void this.#run();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
  }

  async check(): Promise<{ ok: boolean; error?: string }> {
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
  return (await check.check()).ok;
}
