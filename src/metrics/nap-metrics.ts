// Napping's metrics, ours beside kamal-proxy's (prefix kamal_napper_):
//   kamal_napper_services{state}                      gauge: napping services by nap state
//   kamal_napper_wakes_total{outcome,service}         counter: woken | failed, since start
//   kamal_napper_wake_duration_seconds{service}       histogram: successful wakes
//   kamal_napper_held_requests_total{service}         counter: requests held during wakes
//   kamal_napper_requests_held{service}               gauge: those held right now
//   kamal_napper_memory_at_sleep_bytes{service}       gauge: the app's memory when put to sleep
//   kamal_napper_memory_given_back_bytes              gauge: that, summed over sleeping apps
// Fed by the scrape with one sample per napping service (src/nap/nap-stats.ts
// keeps the numbers; this file knows only their shape).
import type { Histogram } from './histogram.ts';
import { type Exposition, labelPairs } from './text-format.ts';

export const NAP_STATES = ['running', 'idle', 'stopping', 'stopped', 'starting'] as const;

export interface NapSample {
  service: string;
  state: string;
  wakes: { readonly woken: number; readonly failed: number };
  wakeDuration: Histogram;
  heldNow: number;
  heldTotal: number;
  memoryAtSleepBytes: number; // 0 while awake or unknown
}

export function writeNapMetrics(out: Exposition, samples: readonly NapSample[]): void {
  const sorted = [...samples].sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
  const states = out.family('kamal_napper_services', 'gauge', 'Napping services, by nap state.');
  for (const state of [...NAP_STATES].sort()) states.sample(labelPairs({ state }), samples.filter((s) => s.state === state).length);

  const wakes = out.family('kamal_napper_wakes_total', 'counter', 'Wakes of sleeping apps since the proxy started, by outcome (woken or failed).');
  const duration = out.family('kamal_napper_wake_duration_seconds', 'histogram', 'Time a successful wake took, from its first request until the app answered its health check.');
  const held = out.family('kamal_napper_held_requests_total', 'counter', 'Requests held while their app woke (browsers get the waiting page instead).');
  const heldNow = out.family('kamal_napper_requests_held', 'gauge', 'Requests held right now, waiting for their app to wake.');
  const memory = out.family('kamal_napper_memory_at_sleep_bytes', 'gauge', 'Memory the app (container or process group) used when it was put to sleep; 0 while awake or unknown.');
  let givenBack = 0;
  for (const s of sorted) {
    wakes.sample(labelPairs({ outcome: 'failed', service: s.service }), s.wakes.failed);
    wakes.sample(labelPairs({ outcome: 'woken', service: s.service }), s.wakes.woken);
    const labels = labelPairs({ service: s.service });
    s.wakeDuration.write(duration, labels);
    held.sample(labels, s.heldTotal);
    heldNow.sample(labels, s.heldNow);
    const asleep = s.state === 'stopped' ? s.memoryAtSleepBytes : 0;
    memory.sample(labels, asleep);
    givenBack += asleep;
  }
  out.family('kamal_napper_memory_given_back_bytes', 'gauge', 'Memory given back by napping: what each sleeping app used when it was put to sleep, summed.').sample('', givenBack);
}
