// --target-timeout is the wait for the app's response head once it has the
// whole request (Go's ResponseHeaderTimeout, which kamal-proxy sets), not the
// time a client takes to upload (issue #16, item 3). Unbuffered, the body
// streams to the app as the client sends it.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';

quietLogs();

const TARGET_TIMEOUT_MS = 500;
const PIECES = 10;
const PIECE_BYTES = 6_000; // 60 KB in all
const PIECE_GAP_MS = 150; // the upload takes three target timeouts

describe('--target-timeout and a slow upload', () => {
  let proxy: TestProxy;
  let app: Backend;
  const received = new Map<string, number>(); // body bytes the app got, by path

  before(async () => {
    app = await startBackend('app', {
      route(req, res) {
        const path = req.url!;
        received.set(path, 0);
        if (path === '/early') {
          // Refuses before reading the body, as an app does for a body too large.
          res.writeHead(413, { 'Content-Type': 'text/plain', Connection: 'close' }).end('too large');
          return true;
        }
        req.on('data', (c: Buffer) => received.set(path, received.get(path)! + c.length));
        if (path === '/read') req.on('end', () => res.end(String(received.get(path))));
        // '/silent': reads it all and never answers.
        return true;
      },
    });
    proxy = await startTestProxy();
    await proxy.router.deploy(
      deployParams('app', [app.address], { options: { hosts: ['app.example.test'] }, target: { responseTimeoutMs: TARGET_TIMEOUT_MS } }),
    );
  });

  after(async () => {
    await proxy.stop();
    await app.close();
  });

  // Sends a POST with Content-Length whose body goes out in pieces, and
  // returns what comes back once the proxy closes the connection or answers
  // in full; `bodyAtAnswer` is what the app had of the body when the status
  // line arrived.
  function slowUpload(path: string): Promise<{ response: string; bodyAtAnswer: number }> {
    const length = PIECES * PIECE_BYTES;
    return new Promise((resolve) => {
      const socket = net.connect(proxy.httpPort, '127.0.0.1');
      let response = '';
      let bodyAtAnswer = -1;
      let sent = 0;
      socket.setEncoding('latin1');
      socket.on('connect', () => {
        socket.write(`POST ${path} HTTP/1.1\r\nHost: app.example.test\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`);
        const next = () => {
          if (sent === PIECES || socket.destroyed) return;
          sent++;
          socket.write(Buffer.alloc(PIECE_BYTES, 'u'));
          setTimeout(next, PIECE_GAP_MS);
        };
        next();
      });
      socket.on('data', (d: string) => {
        if (bodyAtAnswer === -1) bodyAtAnswer = received.get(path) ?? 0;
        response += d;
      });
      socket.on('error', () => {});
      socket.on('close', () => resolve({ response, bodyAtAnswer }));
    });
  }

  test('an upload slower than the target timeout is answered by the app, not 504', async () => {
    const { response } = await slowUpload('/read');
    assert.match(response, /^HTTP\/1\.1 200 /);
    assert.ok(response.endsWith(String(PIECES * PIECE_BYTES)), 'the app read every byte and answered');
  });

  test('an app that answers before reading the body is relayed at once, mid-upload', async () => {
    const { response, bodyAtAnswer } = await slowUpload('/early');
    assert.match(response, /^HTTP\/1\.1 413 /);
    assert.ok(response.includes('\r\n\r\n9\r\ntoo large\r\n0\r\n\r\n'), 'the whole answer');
    assert.ok(bodyAtAnswer < PIECES * PIECE_BYTES, 'answered before the upload ended');
  });

  test('the target timeout starts once the whole body is sent: an app that never answers is a 504 after that', async () => {
    const { response, bodyAtAnswer } = await slowUpload('/silent');
    assert.match(response, /^HTTP\/1\.1 504 /);
    assert.equal(bodyAtAnswer, PIECES * PIECE_BYTES, 'the whole body reached the app before the 504');
  });
});
