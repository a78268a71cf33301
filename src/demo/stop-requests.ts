// When the demo should stop: Ctrl-C (SIGINT), SIGTERM, a closed terminal
// (SIGHUP), or its parent gone. The last is how `npm start` ends: npm runs us
// under `sh -c` and forwards SIGINT and SIGTERM to that shell, which dies
// without passing them on, so we only see our parent go.
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const PARENT_CHECK_MS = 250;

export function onStopRequest(stop: (reason: string) => void): void {
  // Not `once`: a second Ctrl-C while stopping must not kill us before the
  // napping app is stopped.
  for (const signal of SIGNALS) process.on(signal, () => stop(signal));
  const parent = process.ppid;
  const timer = setInterval(() => {
    // An orphan is adopted by init or a subreaper: the pid changes.
    if (process.ppid === parent) return;
    clearInterval(timer);
    stop('parent exited');
  }, PARENT_CHECK_MS);
  timer.unref(); // never what keeps the demo alive
}
