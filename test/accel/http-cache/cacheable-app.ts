// A napping app for the HTTP cache tests, run by --nap-command: /up, and a
// page any shared cache may keep for a minute. Appends a line to $START_LOG
// at each start and one to $HIT_LOG per page served, so tests can count both.
import { appendFileSync } from 'node:fs';
import http from 'node:http';

if (process.env.START_LOG) appendFileSync(process.env.START_LOG, `${process.pid}\n`);
const server = http.createServer((req, res) => {
  if (req.url === '/up') return void res.end('up');
  if (process.env.HIT_LOG) appendFileSync(process.env.HIT_LOG, `${req.url}\n`);
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'public, max-age=600' }).end(`page ${req.url}`);
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
