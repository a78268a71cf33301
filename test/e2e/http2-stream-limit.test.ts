// HTTP/2's limit on concurrent streams per connection: advertised in the
// proxy's SETTINGS (250, Go's default, which kamal-proxy keeps) and enforced
// (RFC 9113 §5.1.2), so one connection cannot hold the whole service.
// A well-behaved client (Node's) queues streams beyond it; one that ignores
// it has the extra stream refused, and other connections are still served.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { HTTP2_MAX_CONCURRENT_STREAMS } from '../../src/config/defaults.ts';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { ERROR, FLAG, FRAME, frame, headerBlock, RawH2, SETTING, settingsOf } from '../helpers/raw-h2.ts';
import type { Frame } from '../helpers/raw-h2.ts';
import { selfSigned, tempDir } from '../tls/openssl.ts';

quietLogs();
const HOST = 'h2-limit.example.test';
const LIMIT = HTTP2_MAX_CONCURRENT_STREAMS;

describe('HTTP/2 concurrent stream limit', () => {
  const cert = selfSigned(tempDir(), 'h2-limit', [HOST]);
  let proxy: TestProxy;
  let app: Backend;

  before(async () => {
    app = await startBackend('app');
    proxy = await startTestProxy();
    // Request buffering: a stream whose body never comes holds no upstream
    // connection, so the open streams below load the proxy, not the app.
    await proxy.router.deploy(
      deployParams('h2limit', [app.address], {
        options: { hosts: [HOST], tlsEnabled: true, tlsCertificatePath: cert.certPath, tlsPrivateKeyPath: cert.keyPath },
        target: { bufferRequests: true },
      }),
    );
  });
  after(async () => {
    await proxy.stop();
    await app.close();
  });

  function connect(): Promise<http2.ClientHttp2Session> {
    return new Promise((resolve, reject) => {
      const s = http2.connect(`https://127.0.0.1:${proxy.httpsPort}`, { servername: HOST, ca: cert.certPem });
      s.once('remoteSettings', () => resolve(s));
      s.once('error', reject);
    });
  }

  function get(session: http2.ClientHttp2Session, path: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const stream = session.request({ ':authority': HOST, ':path': path });
      let status = 0;
      stream.on('response', (h) => (status = Number(h[':status'])));
      stream.resume();
      stream.on('end', () => resolve(status));
      stream.on('error', reject);
    });
  }

  // A POST whose body never comes: its stream stays open.
  const openStream = (id: number) =>
    frame(FRAME.HEADERS, FLAG.END_HEADERS, id, headerBlock([[':method', 'POST'], [':scheme', 'https'], [':authority', HOST], [':path', '/open']]));
  const streamId = (n: number) => 2 * n + 1; // the n-th client stream, from 0
  const errorCode = (f: Frame) => f.payload.readUInt32BE(f.type === FRAME.GOAWAY ? 4 : 0);

  test(`the proxy's SETTINGS carry the limit; a client with more requests than it on one connection gets them all answered`, async () => {
    const session = await connect();
    try {
      assert.equal(session.remoteSettings.maxConcurrentStreams, LIMIT);
      const statuses = await Promise.all(Array.from({ length: LIMIT + 50 }, (_, i) => get(session, `/n${i}`)));
      assert.deepEqual(new Set(statuses), new Set([200]));
    } finally {
      session.destroy();
    }
  });

  test('a stream beyond the limit, before the client acknowledged it, is refused (REFUSED_STREAM); other connections are served', async () => {
    const hostile = await RawH2.connect(proxy.httpsPort, HOST, cert.certPem);
    try {
      const settings = await hostile.waitFor((f) => f.type === FRAME.SETTINGS && (f.flags & FLAG.ACK) === 0);
      assert.equal(settingsOf(settings).get(SETTING.MAX_CONCURRENT_STREAMS), LIMIT);
      // No SETTINGS ACK: the client may not have seen the limit yet.
      hostile.write(...Array.from({ length: LIMIT + 1 }, (_, n) => openStream(streamId(n))));
      const refused = await hostile.waitFor((f) => f.type === FRAME.RST_STREAM && f.stream === streamId(LIMIT));
      assert.equal(errorCode(refused), ERROR.REFUSED_STREAM);

      const other = await connect();
      try {
        assert.equal(await get(other, '/other'), 200);
      } finally {
        other.destroy();
      }
      // The streams within the limit were all taken, and are still open.
      assert.deepEqual(
        hostile.frames.filter((f) => f.type === FRAME.RST_STREAM || f.type === FRAME.GOAWAY).map((f) => f.stream),
        [streamId(LIMIT)],
      );
      assert.equal(hostile.closed, false);
    } finally {
      hostile.close();
    }
  });

  test('a client that exceeds the limit it acknowledged does not get the stream (nghttp2 ends the connection); other connections are served', async () => {
    const hostile = await RawH2.connect(proxy.httpsPort, HOST, cert.certPem);
    try {
      await hostile.waitFor((f) => f.type === FRAME.SETTINGS && (f.flags & FLAG.ACK) === 0);
      // Our ACK, then a PING: its answer means the server has read the ACK.
      hostile.write(frame(FRAME.SETTINGS, FLAG.ACK, 0), frame(FRAME.PING, 0, 0, Buffer.alloc(8)));
      await hostile.waitFor((f) => f.type === FRAME.PING && (f.flags & FLAG.ACK) !== 0);
      hostile.write(...Array.from({ length: LIMIT + 1 }, (_, n) => openStream(streamId(n))));
      const last = streamId(LIMIT);
      // RFC 9113 §5.1.2: a stream error (PROTOCOL_ERROR or REFUSED_STREAM),
      // which §5.4 lets a server treat as a connection error (GOAWAY).
      const answer = await hostile.waitFor(
        (f) => (f.type === FRAME.RST_STREAM && f.stream === last) || f.type === FRAME.GOAWAY,
      );
      if (answer.type === FRAME.GOAWAY) {
        assert.ok((answer.payload.readUInt32BE(0) & 0x7fffffff) < last, 'GOAWAY lets the extra stream through');
        assert.equal(errorCode(answer), ERROR.PROTOCOL_ERROR);
      } else {
        assert.ok([ERROR.REFUSED_STREAM, ERROR.PROTOCOL_ERROR].includes(errorCode(answer) as 1 | 7));
      }

      const other = await connect();
      try {
        assert.equal(await get(other, '/other'), 200);
      } finally {
        other.destroy();
      }
    } finally {
      hostile.close();
    }
  });
});
