// A request in flight on a target, and the target as that request sees it:
// the seam that lets target.ts start handlers without the handlers importing
// target.ts back.
import type { Client } from '../http/undici.ts';
import type { TargetOptions } from '../config/service-options.ts';
import type { UpstreamClient } from '../upstream/upstream-client.ts';
import type { DenseSetMember } from '../util/dense-set.ts';
import type { ResponseFilter } from '../http/response-sink.ts';

export interface Inflight extends DenseSetMember {
  readonly upgraded: boolean;
  cancel(reason: Error): void;
}

export interface InflightTarget {
  readonly address: string;
  readonly options: TargetOptions;
  readonly responseFilters: ResponseFilter | null;
  readonly pool: UpstreamClient; // whichever client this process uses (client-choice.ts)
  upgradeClient(): Client;
  track(r: Inflight): void;
  untrack(r: Inflight): void;
}
