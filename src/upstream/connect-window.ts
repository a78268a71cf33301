// How many new connections to one target may be unproven at once (connecting,
// or connected and not answered on yet), as TCP's congestion window (Reno)
// governs segments in flight. An unproven connection may still sit in the
// app's accept queue; an app with a small listen backlog (python's
// http.server: 5), or one just woken with a burst of held requests, drops the
// SYNs beyond it: each such connect takes a second or more, and some
// connections never reach the app at all. The window:
// - starts at `initial`; grows by one per answer up to `threshold` (slow
//   start), then by one per window's worth of answers, up to `max`;
// - halves (and so does the threshold) when a connect stalls: on a local
//   network a connect takes well under a millisecond, so one still under way
//   after the pool's patience interval had its SYN dropped;
// - starts again from `initial` once the pool has been empty for a while
//   (the app slept or restarted: what it could take before says nothing).
export class ConnectWindow {
  readonly #initial: number;
  readonly #max: number;
  #size: number;
  #threshold: number;
  #answers = 0; // since the window last grew, past the threshold

  constructor(initial: number, threshold: number, max: number) {
    this.#initial = initial;
    this.#max = max;
    this.#size = initial;
    this.#threshold = threshold;
  }

  get size(): number {
    return this.#size;
  }

  answered(): void {
    if (this.#size >= this.#max) return;
    if (this.#size < this.#threshold) this.#size++;
    else if (++this.#answers >= this.#size) {
      this.#answers = 0;
      this.#size++;
    }
  }

  stalled(): void {
    this.#threshold = Math.max(this.#initial, this.#size >> 1);
    this.#size = this.#threshold;
    this.#answers = 0;
  }

  restart(): void {
    this.#size = this.#initial;
    this.#answers = 0;
  }
}
