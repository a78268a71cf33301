// A deployed service: its options, its active (and rollout) load balancer,
// and the per-service part of request handling.
import type { RequestContext } from '../http/context.ts';
import { sendError } from '../http/respond.ts';
import type { LoadBalancer } from '../loadbalancer/load-balancer.ts';
import type { ErrorPages } from '../pages/pages.ts';
import { stripPathPrefix } from '../router/service-map.ts';
import type { PauseState, RolloutState, ServiceOptions, ServiceState, TargetOptions } from './options.ts';
import { defaultPauseState } from './options.ts';

export class Service {
  readonly name: string;
  options: ServiceOptions;
  targetOptions: TargetOptions;
  active: LoadBalancer;
  rollout: LoadBalancer | null = null;
  pause: PauseState = defaultPauseState();
  rolloutSplit: RolloutState | null = null;
  errorPages: ErrorPages | null;

  constructor(name: string, options: ServiceOptions, targetOptions: TargetOptions, active: LoadBalancer, errorPages: ErrorPages | null) {
    this.name = name;
    this.options = options;
    this.targetOptions = targetOptions;
    this.active = active;
    this.errorPages = errorPages;
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

  // Applies the service's settings to the request context before anything can
  // fail, so even an early error uses the service's pages and log headers.
  enter(ctx: RequestContext): void {
    ctx.serviceName = this.name;
    ctx.errorPages = this.errorPages;
    ctx.logRequestHeaders = this.targetOptions.logRequestHeaders;
    ctx.logResponseHeaders = this.targetOptions.logResponseHeaders;
  }

  upstreamPath(ctx: RequestContext, prefix: string): string {
    return this.options.stripPrefix ? stripPathPrefix(ctx.path, prefix) : ctx.path;
  }

  serve(ctx: RequestContext, prefix: string): void {
    this.enter(ctx);
    const target = this.active.claimTarget(ctx.req);
    if (target === null || target.draining) return sendError(ctx, 503);
    target.serve(ctx, this.upstreamPath(ctx, prefix));
  }

  serveUpgrade(ctx: RequestContext, prefix: string, head: Buffer): void {
    this.enter(ctx);
    const target = this.active.claimTarget(ctx.req);
    if (target === null || target.draining) return sendError(ctx, 503);
    target.serveUpgrade(ctx, this.upstreamPath(ctx, prefix), head, ctx.socket);
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
      pause: this.pause,
      rollout: this.rolloutSplit,
    };
  }
}
