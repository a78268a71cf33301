// One upstream: an address, its keep-alive HTTP/1.1 connections, its health
// state, and the set of requests in flight on it so it can be drained.
import { type Client, undici } from '../http/undici.ts';
import { acceptBareLf } from '../http/undici-bare-lf.ts';
import { newUpstreamClient } from '../upstream/client-choice.ts';
import type { UpstreamClient } from '../upstream/upstream-client.ts';
import type { Duplex } from 'node:stream';
import { MAX_HEADER_SIZE_BYTES } from '../config/defaults.ts';
import type { RequestContext } from '../http/context.ts';
import type { TargetOptions } from '../config/service-options.ts';
import { parseTargetAddress } from '../upstream/target-address.ts';
import { drained } from '../upstream/errors.ts';
import { DenseSet } from '../util/dense-set.ts';
import type { Inflight, InflightTarget } from './inflight.ts';
import { ProxyHandler } from './proxy-handler.ts';
import { UpgradeHandler } from './upgrade-handler.ts';
import { responseFilters } from './response-pipeline.ts';
import type { ResponseFilter } from '../http/response-sink.ts';

export type TargetHealth = 'adding' | 'healthy' | 'unhealthy';

export class Target implements InflightTarget {
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly options: TargetOptions;
  readonly responseFilters: ResponseFilter | null;
  readonly pool: UpstreamClient;
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
    this.responseFilters = responseFilters(options);
    this.pool = newUpstreamClient(this.host, this.port);
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

  // Proxies one request to this target, to ctx.upstreamPath. Never throws:
  // failures become error responses.
  serve(ctx: RequestContext): void {
    if (ctx.upgrade === null) new ProxyHandler(this, ctx).start();
    else new UpgradeHandler(this, ctx, ctx.upgrade).start();
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
