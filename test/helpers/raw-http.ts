// HTTP written and read by hand, so the proxy sees exactly the bytes a test
// means (malformed requests, raw query strings).
import http from 'node:http';
import net from 'node:net';

export function rawGet(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ port, host: '127.0.0.1', path, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

// Sends the bytes, keeps the connection open, and returns everything received
// until the server closes it (or waitMs passes). Given pieces, it writes them
// PIECE_GAP_MS apart, so the server reads them as separate chunks.
const PIECE_GAP_MS = 50;
export function rawExchange(port: number, text: string | Buffer | (string | Buffer)[], waitMs = 3_000): Promise<string> {
  const pieces = Array.isArray(text) ? text : [text];
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      pieces.forEach((piece, i) => (i === 0 ? socket.write(piece) : setTimeout(() => socket.write(piece), i * PIECE_GAP_MS)));
    });
    let out = '';
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.setEncoding('latin1');
    socket.on('data', (d) => (out += d));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? undefined : reject(err)));
  });
}
