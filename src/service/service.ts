// A deployed service: its options, its active (and rollout) load balancer,
// maintenance state, and the per-service part of request handling, in
// kamal-proxy's order:
//   1. per-service settings on the request (pages, log headers)
//   2. HTTPS to a service without TLS -> 503
//   3. TLS and canonical-host redirects -> 301
//   4. napping's own event stream for the waiting page
//   5. pause/stop (the health-check path answers 200 directly)
//   6. napping: wake a sleeping app (waiting page for browsers, others held)
//   7. rollout or active balancer -> target (503 when none is healthy)
//   8. writer affinity, cookie scoping, activity -> target.serve
import type { RequestContext } from '../http/context.ts';
import { sendError } from '../http/respond.ts';
import type { LoadBalancer } from '../loadbalancer/load-balancer.ts';
import type { ErrorPages } from '../pages/pages.ts';
import { stripPathPrefix } from '../http/paths.ts';
import type { RolloutState, ServiceOptions, ServiceState, TargetOptions, PauseState } from '../config/service-options.ts';
import { defaultPauseState } from '../config/service-options.ts';
import { PauseController } from './pause-controller.ts';
import { redirectLocation, sendRedirect } from './redirect.ts';
import { usesRollout } from './rollout-controller.ts';
import { NAP_EVENTS_PATH, NAP_RETRY_AFTER_SECONDS } from '../config/defaults.ts';
import { isBrowserNavigation, isIgnoredClient } from '../nap/client-kind.ts';
import type { Napper } from '../nap/napper.ts';
import type { CertManager } from '../tls/cert-manager.ts';
import { sendWaitingPage, serveWakeEvents } from '../nap/waiting-page.ts';

export class Service {
  readonly name: string;
  options: ServiceOptions;
  targetOptions: TargetOptions;
  active: LoadBalancer;
  rollout: LoadBalancer | null = null;
  rolloutSplit: RolloutState | null = null;
  readonly pause: PauseController;
  errorPages: ErrorPages | null;
  napper: Napper | null = null;
  certManager: CertManager | null = null;
  napIgnoreUserAgents: readonly string[] = [];

  constructor(
    name: string,
    options: ServiceOptions,
    targetOptions: TargetOptions,
    active: LoadBalancer,
    errorPages: ErrorPages | null,
    pause: PauseState = defaultPauseState(),
  ) {
    this.name = name;
    this.options = options;
    this.targetOptions = targetOptions;
    this.active = active;
    this.errorPages = errorPages;
    this.pause = new PauseController(pause);
  }

  // The routing table reads these.
  get hosts(): readonly string[] {
    return this.options.hosts;
  }
  get pathPrefixes(): readonly string[] {
    return this.options.pathPrefixes;
  }

  // Swaps in a new deployment and returns the balancer it replaced.
  update(options: ServiceOptions, targetOptions: TargetOptions, active: LoadBalancer, errorPages: ErrorPages | null): LoadBalancer {
    const old = this.active;
    this.options = options;
    this.targetOptions = targetOptions;
    this.active = active;
    this.errorPages = errorPages;
    return old;
  }

  serve(ctx: RequestContext, prefix: string, head: Buffer | null = null): void {
    ctx.serviceName = this.name;
    ctx.errorPages = this.errorPages;
    ctx.logRequestHeaders = this.targetOptions.logRequestHeaders;
    ctx.logResponseHeaders = this.targetOptions.logResponseHeaders;

    if (ctx.scheme === 'https' && !this.options.tlsEnabled) return sendError(ctx, 503);
    const location = redirectLocation(ctx, this.options);
    if (location !== null) return sendRedirect(ctx, location);

    const path = this.options.stripPrefix ? stripPathPrefix(ctx.path, prefix) : ctx.path;
    if (this.napper !== null && head === null && ctx.path === eventsPath(prefix)) return serveWakeEvents(ctx, this.napper);
    if (this.pause.running) return this.#forward(ctx, prefix, path, head);
    void this.#whilePaused(ctx, prefix, path, head);
  }

  #isHealthCheck(ctx: RequestContext, path: string): boolean {
    const method = ctx.req.method;
    return (method === 'GET' || method === 'HEAD') && path === this.targetOptions.healthCheck.path;
  }

  async #whilePaused(ctx: RequestContext, prefix: string, path: string, head: Buffer | null): Promise<void> {
    // Outside load balancers must keep the host in their pool while we hold traffic.
    if (this.#isHealthCheck(ctx, path)) return answerHealthy(ctx);
    const decision = await this.pause.wait();
    if (ctx.status === 499 || ctx.socket.destroyed) return; // the client gave up while held
    if (decision === 'stopped') return sendError(ctx, 503, this.pause.state.stopMessage);
    if (decision === 'timeout') return sendError(ctx, 504);
    this.#forward(ctx, prefix, path, head);
  }

  #forward(ctx: RequestContext, prefix: string, path: string, head: Buffer | null): void {
    const napper = this.napper;
    if (napper !== null) {
      // Monitors, bots and outside health checks neither wake the app nor keep it awake.
      const counts = !this.#isHealthCheck(ctx, path) && !isIgnoredClient(ctx.req, this.napIgnoreUserAgents);
      if (!napper.awake) return void this.#wakeThenForward(ctx, prefix, path, head, napper, counts);
      if (counts) {
        napper.requestStarted();
        ctx.activity = napper;
      }
    }
    const lb =
      this.rollout !== null && this.rolloutSplit !== null && usesRollout(this.rolloutSplit, ctx.req.headers.cookie)
        ? this.rollout
        : this.active;
    const target = lb.claimTarget(ctx.req);
    if (target === null || target.draining) return sendError(ctx, 503);

    if (lb.hasReaders) {
      ctx.adjustResponse = true;
      ctx.stripWriterAffinity = true;
      if (!lb.isRead(ctx.req)) ctx.writerAffinityMs = this.options.writerAffinityTimeoutMs;
    }
    if (this.targetOptions.scopeCookiePaths && this.options.stripPrefix && prefix !== '/') {
      ctx.adjustResponse = true;
      ctx.cookieScopePrefix = prefix;
    }
    if (head === null) target.serve(ctx, path);
    else target.serveUpgrade(ctx, path, head, ctx.socket);
  }

  async #wakeThenForward(ctx: RequestContext, prefix: string, path: string, head: Buffer | null, napper: Napper, counts: boolean): Promise<void> {
    if (!counts) {
      // A sleeping app is still a healthy service: it wakes on demand. Outside
      // load balancers polling the health path must keep this host.
      if (this.#isHealthCheck(ctx, path)) return answerHealthy(ctx);
      return retryLater(ctx);
    }
    const wake = napper.wake(`${ctx.req.method} ${ctx.path}`);
    if (head === null && isBrowserNavigation(ctx.req)) {
      wake.catch(() => {}); // the page follows it over its event stream
      return sendWaitingPage(ctx, napper, eventsPath(prefix));
    }
    try {
      await wake;
    } catch {
      return retryLater(ctx);
    }
    if (ctx.status === 499 || ctx.socket.destroyed) return; // the client gave up while held
    this.#forward(ctx, prefix, path, head);
  }

  toState(): ServiceState {
    return {
      name: this.name,
      options: this.options,
      targetOptions: this.targetOptions,
      activeTargets: this.active.writers.map((t) => t.address),
      activeReaders: this.active.readers.map((t) => t.address),
      rolloutTargets: this.rollout?.writers.map((t) => t.address) ?? [],
      rolloutReaders: this.rollout?.readers.map((t) => t.address) ?? [],
      pause: this.pause.state,
      rollout: this.rolloutSplit,
      ...(this.napper !== null ? { nap: this.napper.persisted() } : {}),
    };
  }
}

// The waiting page's event stream lives under the service's own prefix, so
// it reaches this service whether or not the prefix is stripped.
function eventsPath(prefix: string): string {
  return prefix === '/' ? NAP_EVENTS_PATH : prefix + NAP_EVENTS_PATH;
}

function answerHealthy(ctx: RequestContext): void {
  ctx.status = 200;
  if (ctx.res !== null) ctx.res.writeHead(200, ['Content-Length', '0']).end();
  else ctx.socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
}

// The app could not be woken (or the client may not wake it): 503 with
// Retry-After, so clients and crawlers come back rather than give up.
function retryLater(ctx: RequestContext): void {
  if (ctx.res !== null && !ctx.res.headersSent) ctx.res.setHeader('Retry-After', String(NAP_RETRY_AFTER_SECONDS));
  sendError(ctx, 503);
}
