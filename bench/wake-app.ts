// The app woken by bench/wake-overhead.ts, run by --nap-command: it starts
// listening $READY_DELAY_MS after its script starts (a slow boot of known
// length) and answers its first real request with its own timeline as JSON,
// so the bench needs no side channel.
//
// Times are wall-clock ms with sub-ms precision (performance.timeOrigin +
// performance.now()), the same clock the bench reads in its own process.
import http from 'node:http';

const now = (): number => performance.timeOrigin + performance.now();

const scriptAt = now();
const port = Number(process.env.PORT);
const delayMs = Number(process.env.READY_DELAY_MS ?? 0);

let readyAt = 0;
let firstProbeAt = 0; // first health-check request, i.e. the one that found us ready
let probes = 0;

const server = http.createServer((req, res) => {
  const at = now();
  if (req.url === '/up') {
    probes++;
    if (firstProbeAt === 0) firstProbeAt = at;
    return void res.end('up');
  }
  const body = JSON.stringify({
    pid: process.pid,
    // When the node process began (before its bootstrap), then our script.
    processAt: performance.timeOrigin,
    scriptAt,
    readyAt,
    firstProbeAt,
    probes,
    requestAt: at,
    // Lets the bench check that both processes' clocks agree.
    clockOffset: Date.now() - now(),
  });
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(body);
});

setTimeout(() => {
  server.listen(port, '127.0.0.1', () => {
    readyAt = now();
  });
}, delayMs);

process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
