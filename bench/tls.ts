// TLS pieces of the HTTP/2 part: a throwaway certificate and one verified
// HTTP/2 GET for the correctness check.
import { readFileSync } from 'node:fs';
import { connect, constants } from 'node:http2';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { run } from './children.ts';
import { HOST, type Response } from './net.ts';

// A reserved name (RFC 6761) that resolves nowhere: every client is pointed at
// 127.0.0.1 explicitly and only sends the name as SNI and :authority, which
// kamal-napper needs to pick the service and its certificate.
export const TLS_NAME = 'bench.test';

export type Cert = { certFile: string; keyFile: string; pem: string };

// EC P-256, as a small modern deployment would use; valid for a day, since it
// lives only as long as the bench's temp dir.
export async function makeCertificate(openssl: string, dir: string): Promise<Cert> {
  const certFile = join(dir, 'bench-cert.pem');
  const keyFile = join(dir, 'bench-key.pem');
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '1',
    '-subj', `/CN=${TLS_NAME}`, '-addext', `subjectAltName=DNS:${TLS_NAME}`];
  const out = await run(openssl, args, { timeoutMs: 10_000 });
  if (out.code !== 0) throw new Error(`openssl ${args.join(' ')} failed (exit ${out.timedOut ? 'timeout' : out.code}):\n${out.stderr}`);
  return { certFile, keyFile, pem: readFileSync(certFile, 'utf8') };
}

// One HTTP/2 GET https://bench.test:<port>/ over a TLS connection to 127.0.0.1
// that must present our certificate (the only trusted CA here) for bench.test
// and agree on h2: a fallback to HTTP/1.1 or the wrong certificate fails.
export function h2Get(port: number, cert: Cert, timeoutMs = 5000): Promise<Response> {
  return new Promise((resolve, reject) => {
    const session = connect(`https://${TLS_NAME}:${port}`, {
      // Our own socket, so that nothing resolves bench.test.
      createConnection: () => tlsConnect({ host: HOST, port, servername: TLS_NAME, ca: cert.pem, ALPNProtocols: ['h2'] }),
    });
    const fail = (e: Error) => {
      clearTimeout(timer);
      session.destroy();
      reject(e);
    };
    const timer: NodeJS.Timeout = setTimeout(() => fail(new Error(`HTTP/2 GET ${HOST}:${port} timed out after ${timeoutMs} ms`)), timeoutMs);
    session.on('error', fail);
    session.on('connect', () => {
      if (session.alpnProtocol !== 'h2') fail(new Error(`${HOST}:${port} negotiated ${session.alpnProtocol}, not h2`));
    });
    const req = session.request({ [constants.HTTP2_HEADER_PATH]: '/' });
    let status = 0;
    const chunks: Buffer[] = [];
    req.on('response', (headers) => (status = Number(headers[constants.HTTP2_HEADER_STATUS])));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', fail);
    req.on('end', () => {
      clearTimeout(timer);
      session.close();
      resolve({ status, body: Buffer.concat(chunks) });
    });
    req.end();
  });
}
