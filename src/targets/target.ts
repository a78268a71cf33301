// One upstream: an address, its keep-alive HTTP/1.1 connections, its health
// state, and the set of requests in flight on it so it can be drained.
import { type Client, undici } from '../http/undici.ts';
import { acceptBareLf } from '../http/undici-bare-lf.ts';
import { Http1Pool } from '../upstream/http1-pool.ts';
import type { Duplex } from 'node:stream';
import {
  MAX_HEADER_SIZE_BYTES,
  UPSTREAM_BUSY_CONNECTIONS_PER_TARGET,
  UPSTREAM_CONNECT_RETRY_BACKOFF_MS,
  UPSTREAM_IDLE_CONNECTIONS_PER_TARGET,
  UPSTREAM_KEEP_ALIVE_TIMEOUT_MS,
  UPSTREAM_PATIENCE_MS,
  UPSTREAM_RAMP_INITIAL_CONNECTIONS,
  UPSTREAM_RAMP_THRESHOLD_CONNECTIONS,
  UPSTREAM_REFUSED_RETRY_MS,
} from '../config/defaults.ts';
import type { RequestContext } from '../http/context.ts';
import type { TargetOptions } from '../config/service-options.ts';
import { parseTargetAddress } from '../upstream/target-address.ts';
import { drained } from '../upstream/errors.ts';
import { DenseSet } from '../util/dense-set.ts';
import type { Inflight, InflightTarget } from './inflight.ts';
import { ProxyHandler } from './proxy-handler.ts';
import { UpgradeHandler } from './upgrade-handler.ts';

export type TargetHealth = 'adding' | 'healthy' | 'unhealthy';

export class Target implements InflightTarget {
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly options: TargetOptions;
  readonly pool: Http1Pool;
  health: TargetHealth = 'adding';
  draining = false;
  readonly inflight = new DenseSet<Inflight>(); // not a Set: see src/util/dense-set.ts
  #onIdle: (() => void) | null = null;

  constructor(address: string, options: TargetOptions) {
    const parsed = parseTargetAddress(address);
    this.address = parsed.address;
    this.host = parsed.host;
    this.port = parsed.port;
    this.options = options;
    this.pool = new Http1Pool(this.host, this.port, {
      maxBusy: UPSTREAM_BUSY_CONNECTIONS_PER_TARGET,
      rampInitial: UPSTREAM_RAMP_INITIAL_CONNECTIONS,
      rampThreshold: UPSTREAM_RAMP_THRESHOLD_CONNECTIONS,
      patienceMs: UPSTREAM_PATIENCE_MS,
      maxIdle: UPSTREAM_IDLE_CONNECTIONS_PER_TARGET,
      keepAliveTimeoutMs: UPSTREAM_KEEP_ALIVE_TIMEOUT_MS,
      maxHeaderSize: MAX_HEADER_SIZE_BYTES,
      refusedRetryMs: UPSTREAM_REFUSED_RETRY_MS,
      retryBackoffMs: UPSTREAM_CONNECT_RETRY_BACKOFF_MS,
    });
  }

  // WebSocket and other upgrades go through undici, which hands over the
  // upgraded socket: a client of their own each, so there is no cap on how
  // many handshakes may be under way (a pool of them queued the 101st
  // behind a hundred the app was slow to answer). A connection that
  // upgrades is not reused anyway.
  upgradeClient(): Client {
    return acceptBareLf(new (undici().Client)(`http://${this.address}`, {
      maxHeaderSize: MAX_HEADER_SIZE_BYTES,
      // kamal-proxy limits only the wait for response headers; an upgraded
      // connection may last as long as it likes.
      bodyTimeout: 0,
    }));
  }

  // Proxies one request to this target; the upstream path has any matched
  // prefix already stripped. Never throws: failures become error responses.
  serve(ctx: RequestContext, upstreamPath: string): void {
    new ProxyHandler(this, ctx, upstreamPath).start();
  }

  serveUpgrade(ctx: RequestContext, upstreamPath: string, head: Buffer, socket: Duplex): void {
    new UpgradeHandler(this, ctx, upstreamPath, head, socket).start();
  }

  track(r: Inflight): void {
    this.inflight.add(r);
  }

  untrack(r: Inflight): void {
    this.inflight.delete(r);
    if (this.inflight.size === 0 && this.#onIdle !== null) this.#onIdle();
  }

  // Lets in-flight requests finish for up to timeoutMs, then cuts the rest
  // (they answer 504). Upgraded connections are cut at once, as in kamal-proxy:
  // a WebSocket may never end by itself.
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    for (const r of this.inflight) if (r.upgraded) r.cancel(drained());
    if (this.inflight.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.#onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#onIdle = null;
      for (const r of this.inflight) r.cancel(drained());
    }
    // Back in service: after a pause or stop the same targets serve again
    // (a replaced target is closed by its owner instead).
    this.draining = false;
  }

  close(): void {
    this.pool.close();
  }
}
