// A data-plane worker's stand-in for a service's napper: it follows the main
// thread's napper (every change of state is pushed here), counts this
// worker's own requests, and asks the main thread for a wake, which its
// napper runs once however many workers ask.
import type { NapPersisted, NapStateName } from '../config/nap-options.ts';
import type { NapGate } from '../nap/nap-gate.ts';
import { NapStats } from '../nap/nap-stats.ts';
import { WakeError, type WakeProgress } from '../nap/napper.ts';
import type { IdleAnswer, WakeAnswer } from './messages.ts';

export type AskWake = (service: string, trigger: string) => Promise<WakeAnswer>;

export class RemoteNapper implements NapGate {
  readonly service: string;
  readonly stats = new NapStats(); // this worker's held requests
  readonly #askWake: AskWake;
  // Told when this worker's first request to the app begins and its last
  // ends: the main thread's napper counts a busy worker as activity.
  readonly #busy: (busy: boolean, atMs: number) => void;
  #progress: WakeProgress;
  // The main thread's napper awake (1) or not, in shared memory: what this
  // thread's requests go by, current even before the progress message arrives.
  #awakeFlag: Int32Array<SharedArrayBuffer>;
  // Answered idle to the main thread, which is deciding whether to nap:
  // requests wait for its decision (the next progress).
  #claimed = false;
  #active = 0;
  // This thread's own last request; none yet. (Not its start: a restarted
  // proxy would then put off an overdue nap by a whole idle timeout.)
  #lastActivityMs = 0;
  #waking: Promise<void> | null = null;
  readonly #listeners = new Set<(p: WakeProgress) => void>();

  constructor(service: string, progress: WakeProgress, awakeFlag: Int32Array<SharedArrayBuffer>, askWake: AskWake, busy: (busy: boolean, atMs: number) => void) {
    this.service = service;
    this.#progress = progress;
    this.#awakeFlag = awakeFlag;
    this.#askWake = askWake;
    this.#busy = busy;
  }

  get state(): NapStateName {
    return this.#claimed ? 'stopping' : this.#progress.state;
  }

  get awake(): boolean {
    return !this.#claimed && Atomics.load(this.#awakeFlag, 0) === 1;
  }

  requestStarted(): void {
    this.#lastActivityMs = Date.now();
    if (this.#active++ === 0) this.#busy(true, this.#lastActivityMs);
  }

  requestEnded(): void {
    this.#lastActivityMs = Date.now();
    if (--this.#active === 0) this.#busy(false, this.#lastActivityMs);
  }

  // The main thread's napper moved on (a new deploy's napper: a new flag).
  update(progress: WakeProgress, awakeFlag = this.#awakeFlag): void {
    this.#progress = progress;
    this.#awakeFlag = awakeFlag;
    this.#claimed = false;
    for (const l of [...this.#listeners]) l(this.progress());
  }

  // Idle here for idleTimeoutMs: say so, and hold what comes until the main
  // thread has decided (update). Busy: say when it was last used.
  claimIdle(idleTimeoutMs: number): IdleAnswer {
    const now = Date.now();
    if (this.#active > 0) return { idle: false, lastActivityMs: now };
    if (now - this.#lastActivityMs < idleTimeoutMs) return { idle: false, lastActivityMs: this.#lastActivityMs };
    this.#claimed = Atomics.load(this.#awakeFlag, 0) === 1;
    return { idle: true, lastActivityMs: this.#lastActivityMs };
  }

  wake(trigger: string): Promise<void> {
    if (this.awake) return Promise.resolve();
    this.#waking ??= this.#wake(trigger).finally(() => (this.#waking = null));
    return this.#waking;
  }

  async #wake(trigger: string): Promise<void> {
    // Held by a claim: the main thread either naps the app (then we wake
    // it) or serves it on (then it is awake already).
    if (this.#claimed) await new Promise<void>((resolve) => this.#once(() => resolve()));
    if (this.awake) return;
    const answer = await this.#askWake(this.service, trigger);
    if (answer.progress !== null) this.update(answer.progress);
    if (!answer.ok) throw new WakeError(answer.error);
  }

  progress(): WakeProgress {
    return this.#claimed ? { ...this.#progress, state: 'stopping', ready: false } : this.#progress;
  }

  subscribe(listener: (p: WakeProgress) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #once(listener: (p: WakeProgress) => void): void {
    const off = this.subscribe((p) => {
      off();
      listener(p);
    });
  }

  // Workers save nothing: the main thread's napper has what the file keeps.
  persisted(): NapPersisted {
    throw new Error('a worker does not save napping state');
  }

  close(): void {
    this.#listeners.clear();
  }
}
