// A wake's bounded waits: every step of starting an app and probing it
// until ready stops at the wake's deadline, with an error that says which.
export class DeadlineError extends Error {}

export function beforeDeadline<T>(work: Promise<T>, deadline: number, what: 'start' | 'ready'): Promise<T> {
  const ms = deadline - Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new DeadlineError(what === 'start' ? 'the app did not start within the wake timeout' : 'not ready within the wake timeout')),
      Math.max(0, ms),
    );
    work.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e) => (clearTimeout(timer), reject(e)),
    );
  });
}

// A probe that throws (connection refused while the app boots) is "not yet".
export function rethrowUnlessProbe(err: unknown): boolean {
  if (err instanceof DeadlineError) throw err;
  return false;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
