// A deployed service: its options, its active (and rollout) load balancer,
// maintenance state, and the per-service part of request handling, in
// kamal-proxy's order:
//   1. per-service settings on the request (pages, log headers)
//   2. HTTPS to a service without TLS -> 503
//   3. TLS and canonical-host redirects -> 301
//   4. pause/stop (the health-check path answers 200 directly)
//   5. rollout or active balancer -> target (503 when none is healthy)
//   6. writer affinity, cookie scoping -> target.serve
import type { RequestContext } from '../http/context.ts';
import { sendError } from '../http/respond.ts';
import type { LoadBalancer } from '../loadbalancer/load-balancer.ts';
import type { ErrorPages } from '../pages/pages.ts';
import { stripPathPrefix } from '../router/service-map.ts';
import type { RolloutState, ServiceOptions, ServiceState, TargetOptions, PauseState } from './options.ts';
import { defaultPauseState } from './options.ts';
import { PauseController } from './pause-controller.ts';
import { redirectLocation, sendRedirect } from './redirect.ts';
import { usesRollout } from './rollout-controller.ts';

export class Service {
  readonly name: string;
  options: ServiceOptions;
  targetOptions: TargetOptions;
  active: LoadBalancer;
  rollout: LoadBalancer | null = null;
  rolloutSplit: RolloutState | null = null;
  readonly pause: PauseController;
  errorPages: ErrorPages | null;

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
    if (this.pause.running) return this.#forward(ctx, prefix, path, head);
    void this.#whilePaused(ctx, prefix, path, head);
  }

  async #whilePaused(ctx: RequestContext, prefix: string, path: string, head: Buffer | null): Promise<void> {
    // Outside load balancers must keep the host in their pool while we hold traffic.
    const method = ctx.req.method;
    if ((method === 'GET' || method === 'HEAD') && path === this.targetOptions.healthCheck.path) {
      ctx.status = 200;
      if (ctx.res !== null) ctx.res.writeHead(200, ['Content-Length', '0']).end();
      else ctx.socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const decision = await this.pause.wait();
    if (ctx.status === 499 || ctx.socket.destroyed) return; // the client gave up while held
    if (decision === 'stopped') return sendError(ctx, 503, this.pause.state.stopMessage);
    if (decision === 'timeout') return sendError(ctx, 504);
    this.#forward(ctx, prefix, path, head);
  }

  #forward(ctx: RequestContext, prefix: string, path: string, head: Buffer | null): void {
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
    };
  }
}
