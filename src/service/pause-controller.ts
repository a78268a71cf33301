// Maintenance states of a service: running, paused (new requests are held
// until resume, stop, or --max-pause), stopped (503 with a message).
import type { PauseState } from '../config/service-options.ts';

export type PauseDecision = 'proceed' | 'stopped' | 'timeout';

interface Waiter {
  resolve(decision: PauseDecision): void;
  timer: NodeJS.Timeout;
}

export class PauseController {
  #state: PauseState;
  #waiters = new Set<Waiter>();

  constructor(state: PauseState) {
    this.#state = { ...state };
  }

  get state(): PauseState {
    return this.#state;
  }

  get running(): boolean {
    return this.#state.state === 'running';
  }

  pause(failAfterMs: number): void {
    this.#state = { state: 'paused', stopMessage: '', failAfterMs };
  }

  stop(message: string): void {
    this.#state = { state: 'stopped', stopMessage: message, failAfterMs: 0 };
    this.#release('stopped');
  }

  resume(): void {
    this.#state = { state: 'running', stopMessage: '', failAfterMs: 0 };
    this.#release('proceed');
  }

  // What to do with a request arriving now. Held requests each wait up to
  // failAfterMs from their own arrival, as in kamal-proxy.
  wait(): Promise<PauseDecision> | PauseDecision {
    const s = this.#state.state;
    if (s === 'running') return 'proceed';
    if (s === 'stopped') return 'stopped';
    return new Promise((resolve) => {
      const waiter: Waiter = {
        resolve,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          resolve('timeout');
        }, this.#state.failAfterMs),
      };
      this.#waiters.add(waiter);
    });
  }

  get waiting(): number {
    return this.#waiters.size;
  }

  #release(decision: PauseDecision): void {
    for (const w of this.#waiters) {
      clearTimeout(w.timer);
      w.resolve(decision);
    }
    this.#waiters.clear();
  }
}
