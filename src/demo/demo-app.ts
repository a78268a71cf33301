// A tiny app to put behind the proxy in the demo: a page that says which
// instance answered, and the /up health check Rails apps have.
import type { Server } from 'node:http';
import http from '../http/node-http.ts';
import { escapeHtml } from '../pages/escape-html.ts';

export function startDemoApp(name: string, port = 0): Promise<Server> {
  const server = http.createServer((req, res) => {
    if (req.url === '/up') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('OK');
      return;
    }
    const body = `<!doctype html><html><head><meta charset="utf-8"><title>kamal-napper demo</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1f2933}
code{background:#eef2f6;padding:.1rem .3rem;border-radius:4px}</style></head><body>
<h1>Hello from ${name}</h1>
<p>This page came through <strong>kamal-napper</strong>, a drop-in replacement for kamal-proxy.</p>
<p>Request ID: <code>${escapeHtml(String(req.headers['x-request-id'] ?? ''))}</code><br>
Forwarded for: <code>${escapeHtml(String(req.headers['x-forwarded-for'] ?? ''))}</code><br>
Target: <code>${escapeHtml(String(req.headers['x-kamal-target'] ?? ''))}</code></p>
</body></html>`;
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(body);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}
