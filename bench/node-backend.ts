// Fallback backend when nginx is not installed: a keep-alive node:http server
// answering every path (including the /up health check) with the 100-byte body.
// Usage: node bench/node-backend.ts PORT
import { createServer } from 'node:http';
import { BODY } from './body.ts';

const port = Number(process.argv[2]);
const server = createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': BODY.length });
  res.end(BODY);
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
