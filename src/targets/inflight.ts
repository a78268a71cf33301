// A request in flight on a target, and the target as that request sees it:
// the seam that lets target.ts start handlers without the handlers importing
// target.ts back.
import type { Client } from '../http/undici.ts';
import type { TargetOptions } from '../config/service-options.ts';
import type { Http1Pool } from '../upstream/http1-pool.ts';
import type { DenseSetMember } from '../util/dense-set.ts';

export interface Inflight extends DenseSetMember {
  readonly upgraded: boolean;
  cancel(reason: Error): void;
}

export interface InflightTarget {
  readonly address: string;
  readonly options: TargetOptions;
  readonly pool: Http1Pool;
  upgradeClient(): Client;
  track(r: Inflight): void;
  untrack(r: Inflight): void;
}
