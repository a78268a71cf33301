// Loaded into every test file's process (`node --test --import ...`, see
// package.json). --test-timeout bounds each test, but not the file: a test
// that fails before closing a server leaves the process alive after its last
// test, and the run waits for it until CI's own limit (seen in CI: 89
// minutes for one EADDRINUSE). Node's --test-force-exit would end it, but on
// Node 24.21 it sometimes exits before the last suites are reported, so
// their tests silently vanish from the count. Instead: a file still alive
// after FILE_DEADLINE_MS fails loudly, naming what keeps it alive.
const FILE_DEADLINE_MS = 300_000; // the slowest file takes about 20 s

// Only in the files' processes (the runner sets NODE_TEST_CONTEXT there), not
// in the runner itself, which lives as long as the whole run.
if (process.env.NODE_TEST_CONTEXT) {
  setTimeout(() => {
    process.stderr.write(
      `\ntest file still running after ${FILE_DEADLINE_MS / 1000} s; active: ${process.getActiveResourcesInfo().join(', ')}\n`,
    );
    process.exit(1);
  }, FILE_DEADLINE_MS).unref(); // never what keeps the process alive
}
