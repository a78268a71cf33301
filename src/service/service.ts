// A deployed service: its options, its active (and rollout) load balancer,
// maintenance state, and the per-service part of request handling, in
// kamal-proxy's order:
//   1. per-service settings on the request (pages, log headers, the
//      --client-ip-header value in place of X-Forwarded-For)
//   2. HTTPS to a service without TLS -> 503
//   3. TLS and canonical-host redirects -> 301
//   4. napping's own event stream for the waiting page
//   5. pause/stop (the health-check path answers 200 directly)
//   6. napping: wake a sleeping app (waiting page for browsers, others held)
//   7. rollout or active balancer -> target (503 when none is healthy)
//   8. writer affinity, cookie scoping, activity -> target.serve
import type { RequestContext } from '../http/context.ts';
import { sendError, sendResponse } from '../http/respond.ts';
import type { LoadBalancer } from '../loadbalancer/load-balancer.ts';
import type { ErrorPages } from '../pages/pages.ts';
import { stripPathPrefix } from '../http/paths.ts';
import { rawHeader } from '../http/headers.ts';
import type { RolloutState, ServiceOptions, ServiceState, TargetOptions, PauseState } from '../config/service-options.ts';
import { defaultPauseState } from '../config/service-options.ts';
import { PauseController } from './pause-controller.ts';
import { redirectLocation, sendRedirect } from './redirect.ts';
import { usesRollout } from './rollout-controller.ts';
import { NAP_EVENTS_PATH, NAP_RETRY_AFTER_SECONDS } from '../config/defaults.ts';
import { isBrowserNavigation, isIgnoredClient } from '../nap/client-kind.ts';
import type { Napper } from '../nap/napper.ts';
import type { NapGate } from '../nap/nap-gate.ts';
import type { CertManager } from '../tls/cert-manager.ts';
import { sendWaitingPage, serveWakeEvents } from '../nap/waiting-page.ts';
import { serveFromCache } from '../accel/http-cache/cache-lookup.ts';
import { httpCacheFor, type CacheChange, type HttpCache } from '../accel/http-cache/http-cache.ts';

// Its fields change only through its own methods: the router and the
// restore path say what happened (a deploy, a rollout, napping attached),
// the service keeps itself consistent. N: the napper where apps are driven
// (the main thread), or a data-plane worker's stand-in for it.
export class Service<N extends NapGate = Napper> {
  readonly name: string;
  #options: ServiceOptions;
  #targetOptions: TargetOptions;
  #active: LoadBalancer;
  #rollout: LoadBalancer | null = null;
  #rolloutSplit: RolloutState | null = null;
  readonly pause: PauseController;
  #errorPages: ErrorPages | null;
  #napper: N | null = null;
  #napIgnoreUserAgents: readonly string[] = [];
  #certManager: CertManager | null = null;
  // --http-cache: new at each deploy, so a new version starts empty.
  #cache: HttpCache | null;
  // Which deploy of the service this is, counted by the main thread; a
  // data-plane worker's copy takes the main thread's number.
  deployment = 1;
  rolloutDeployment = 0; // the same for the rollout's targets
  #cacheMirror: ((deployment: number, change: CacheChange) => void) | null = null;

  constructor(
    name: string,
    options: ServiceOptions,
    targetOptions: TargetOptions,
    active: LoadBalancer,
    errorPages: ErrorPages | null,
    pause: PauseState = defaultPauseState(),
  ) {
    this.name = name;
    this.#options = options;
    this.#targetOptions = targetOptions;
    this.#active = active;
    this.#errorPages = errorPages;
    this.pause = new PauseController(pause);
    this.#cache = httpCacheFor(targetOptions);
  }

  get options(): ServiceOptions {
    return this.#options;
  }
  get targetOptions(): TargetOptions {
    return this.#targetOptions;
  }
  get active(): LoadBalancer {
    return this.#active;
  }
  get rollout(): LoadBalancer | null {
    return this.#rollout;
  }
  get rolloutSplit(): RolloutState | null {
    return this.#rolloutSplit;
  }
  get napper(): N | null {
    return this.#napper;
  }
  get certManager(): CertManager | null {
    return this.#certManager;
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
    const old = this.#active;
    this.#options = options;
    this.#targetOptions = targetOptions;
    this.#active = active;
    this.#errorPages = errorPages;
    this.deployment++;
    this.#newCache();
    return old;
  }

  // With several threads serving: every change to this service's cache is
  // told to `mirror`, to be replayed in the other threads' copies.
  mirrorCache(mirror: (deployment: number, change: CacheChange) => void): void {
    this.#cacheMirror = mirror;
    this.#newCache(this.#cache);
  }

  // Another thread's change to the cache of the same deploy.
  replayCache(deployment: number, change: CacheChange): void {
    if (deployment === this.deployment) this.#cache?.replay(change);
  }

  #newCache(cache = httpCacheFor(this.#targetOptions)): void {
    this.#cache = cache;
    const mirror = this.#cacheMirror;
    if (cache === null || mirror === null) return;
    // Tagged with the deploy when told (a worker sets its number just after
    // the update); a replaced cache's late stores are the old version's: dropped.
    cache.mirrorTo((change) => {
      if (this.#cache === cache) mirror(this.deployment, change);
    });
  }

  useCertificates(certManager: CertManager | null): void {
    this.#certManager = certManager;
  }

  // A service on another prefix of a host takes the TLS and redirect
  // settings of the host's root (/) service, or the defaults when it has none.
  inheritTls(root: { readonly options: ServiceOptions; readonly certManager: CertManager | null } | undefined): void {
    this.#options = { ...this.#options, tlsEnabled: root?.options.tlsEnabled ?? false, tlsRedirect: root?.options.tlsRedirect ?? true };
    this.#certManager = root?.certManager ?? null;
  }

  // Swaps in the rollout's balancer and returns the one it replaced.
  replaceRollout(lb: LoadBalancer | null): LoadBalancer | null {
    const old = this.#rollout;
    this.#rollout = lb;
    this.rolloutDeployment++;
    return old;
  }

  splitRollout(split: RolloutState | null): void {
    this.#rolloutSplit = split;
  }

  // Returns the napper it replaced, if any, for the caller to close.
  attachNapper(napper: N | null, ignoreUserAgents: readonly string[] = []): N | null {
    const old = this.#napper;
    this.#napper = napper;
    this.#napIgnoreUserAgents = ignoreUserAgents;
    return old === napper ? null : old;
  }

  // ctx.routePrefix is the path prefix the request matched.
  serve(ctx: RequestContext): void {
    ctx.serviceName = this.name;
    ctx.errorPages = this.#errorPages;
    ctx.logRequestHeaders = this.targetOptions.logRequestHeaders;
    ctx.logResponseHeaders = this.targetOptions.logResponseHeaders;
    // As kamal-proxy: the header's first value, when present and not empty.
    if (this.options.clientIpHeader !== '') ctx.forwardedFor = rawHeader(ctx.req.rawHeaders, this.options.clientIpHeader.toLowerCase()) || null;

    if (ctx.scheme === 'https' && !this.options.tlsEnabled) return sendError(ctx, 503);
    const location = redirectLocation(ctx, this.options);
    if (location !== null) return sendRedirect(ctx, location);

    ctx.upstreamPath = this.options.stripPrefix ? stripPathPrefix(ctx.path, ctx.routePrefix) : ctx.path;
    if (this.napper !== null && ctx.upgrade === null && ctx.path === eventsPath(ctx.routePrefix)) {
      // Never in maintenance, nor for monitors: they never wake the app.
      const mayWake = this.pause.running && !isIgnoredClient(ctx.req, this.#napIgnoreUserAgents);
      return serveWakeEvents(ctx, this.napper, mayWake);
    }
    if (this.pause.running) return this.#forward(ctx);
    void this.#whilePaused(ctx);
  }

  // An on-demand TLS check whose URL is a path (router/on-demand-probe.ts):
  // made up by the proxy, not a client's, so as in kamal-proxy it skips the
  // redirects (it stays plain HTTP) and takes the rest of the way: answered
  // 503 while stopped, held while paused, waking a napping app.
  serveInternal(ctx: RequestContext): void {
    ctx.serviceName = this.name;
    ctx.errorPages = this.#errorPages;
    ctx.upstreamPath = this.options.stripPrefix ? stripPathPrefix(ctx.path, ctx.routePrefix) : ctx.path;
    if (this.pause.running) return this.#forward(ctx);
    void this.#whilePaused(ctx);
  }

  #isHealthCheck(ctx: RequestContext): boolean {
    const method = ctx.req.method;
    return (method === 'GET' || method === 'HEAD') && ctx.upstreamPath === this.targetOptions.healthCheck.path;
  }

  async #whilePaused(ctx: RequestContext): Promise<void> {
    // Outside load balancers must keep the host in their pool while we hold traffic.
    if (this.#isHealthCheck(ctx)) return answerHealthy(ctx);
    const decision = await this.pause.wait();
    if (ctx.clientGone) return; // the client gave up while held
    if (decision === 'stopped') return sendError(ctx, 503, this.pause.state.stopMessage);
    if (decision === 'timeout') return sendError(ctx, 504);
    this.#forward(ctx);
  }

  #forward(ctx: RequestContext): void {
    // Before napping: a hit neither wakes the app nor counts as its activity.
    // Not while a rollout splits traffic: one cache would mix the versions.
    if (this.#cache !== null && (this.rollout === null || this.rolloutSplit === null) && serveFromCache(ctx, this.#cache)) return;
    const napper = this.napper;
    if (napper !== null) {
      // Monitors, bots and outside health checks neither wake the app nor keep it awake.
      const counts = !this.#isHealthCheck(ctx) && !isIgnoredClient(ctx.req, this.#napIgnoreUserAgents);
      if (!napper.awake) return void this.#wakeThenForward(ctx, napper, counts);
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
    if (this.targetOptions.scopeCookiePaths && this.options.stripPrefix && ctx.routePrefix !== '/') {
      ctx.adjustResponse = true;
      ctx.cookieScopePrefix = ctx.routePrefix;
    }
    target.serve(ctx);
  }

  async #wakeThenForward(ctx: RequestContext, napper: NapGate, counts: boolean): Promise<void> {
    if (!counts) {
      // A sleeping app is still a healthy service: it wakes on demand. Outside
      // load balancers polling the health path must keep this host.
      if (this.#isHealthCheck(ctx)) return answerHealthy(ctx);
      return retryLater(ctx);
    }
    const wake = napper.wake(`${ctx.req.method} ${ctx.path}`);
    if (ctx.upgrade === null && isBrowserNavigation(ctx.req)) {
      wake.catch(() => {}); // the page follows it over its event stream
      return sendWaitingPage(ctx, napper, eventsPath(ctx.routePrefix));
    }
    try {
      await napper.stats.hold(wake);
    } catch {
      return retryLater(ctx);
    }
    if (ctx.clientGone) return; // the client gave up while held
    this.#forward(ctx);
  }

  toState(): ServiceState {
    return { ...this.routingState(), ...(this.napper !== null ? { nap: this.napper.persisted() } : {}) };
  }

  // What a data-plane worker rebuilds the service from: the saved state
  // but napping's, which workers follow live instead.
  routingState(): ServiceState {
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

// The waiting page's event stream lives under the service's own prefix, so
// it reaches this service whether or not the prefix is stripped.
function eventsPath(prefix: string): string {
  return prefix === '/' ? NAP_EVENTS_PATH : prefix + NAP_EVENTS_PATH;
}

function answerHealthy(ctx: RequestContext): void {
  sendResponse(ctx, 200, '', '');
}

// The app could not be woken (or the client may not wake it): 503 with
// Retry-After, so clients and crawlers come back rather than give up.
function retryLater(ctx: RequestContext): void {
  sendError(ctx, 503, undefined, ['Retry-After', String(NAP_RETRY_AFTER_SECONDS)]);
}
