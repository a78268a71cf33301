// A data-plane worker thread: its own listeners on the proxy's ports (the
// kernel spreads connections over every thread's), serving from a replica
// of the routing table that the main thread keeps up to date. Its log lines
// go to the main thread, which writes them. Loaded anywhere else (the
// install's compile-cache warm-up imports every module), it does nothing.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { changeFromThread } from '../accel/http-cache/http-cache.ts';
import { log } from '../log/logger.ts';
import { HttpMetrics } from '../metrics/http-metrics.ts';
import { Server } from '../server/server.ts';
import { upstreamChoice, useUpstreamShare } from '../upstream/client-choice.ts';
import { Channel } from './channel.ts';
import type { CertificatePems, ToMain, ToWorker, WakeAnswer, WorkerInit, WorkerMetrics } from './messages.ts';
import { ReplicaRoutes } from './replica-routes.ts';

async function serve(port: MessagePort, init: WorkerInit): Promise<void> {
  log.debugEnabled = init.debug;
  useUpstreamShare(init.workers);
  upstreamChoice(false); // the main thread has said which client is in use

  // Everything the main thread sends is handled in order, one at a time (a
  // drain only starts in turn: its answer comes when it is done).
  let queue: Promise<unknown> = Promise.resolve();
  const inTurn = <T>(f: () => T | Promise<T>): Promise<T> => {
    const turn = queue.then(f);
    queue = turn.catch(() => {});
    return turn;
  };

  const channel = new Channel<ToWorker, ToMain>(port, (m) => {
    switch (m.t) {
      case 'routes': return inTurn(() => routes.apply(m.services));
      case 'nap': return inTurn(() => routes.nap(m.service, m.progress));
      case 'challenge': return inTurn(() => routes.challenge(m.update));
      case 'cache': return inTurn(() => routes.replayCache(m.service, m.deployment, changeFromThread(m.change)));
      case 'certificates': return inTurn(() => routes.certificatesChanged(m.defaultCertificate));
      case 'claimIdle': return inTurn(() => routes.claimIdle(m.service, m.idleTimeoutMs));
      case 'drain': return inTurn(() => ({ done: routes.drain(m.service, m.what, m.timeoutMs) })).then((d) => d.done);
      case 'metrics': return inTurn((): WorkerMetrics => ({ thread: init.index, http: httpMetrics?.dump() ?? null, held: routes.held(), inFlight: routes.inFlight() }));
      // Its lines are posted before the answer, so they are there before it.
      case 'flushLog': return log.flushSync();
      case 'stop': return inTurn(stop);
    }
  });

  log.forwardTo((batch) => {
    const lines = new Uint8Array(batch); // a copy of its own, moved to the main thread
    channel.post({ t: 'log', lines }, [lines.buffer]);
  });

  const routes = new ReplicaRoutes({
    askWake: (service, trigger) => channel.ask<WakeAnswer>({ t: 'wake', service, trigger }),
    askCertificate: (serverName) => channel.ask<CertificatePems | null>({ t: 'certificate', serverName }),
    cacheChanged: (service, deployment, change) => channel.post({ t: 'cache', service, deployment, change }),
    busy: (service, busy, atMs) => channel.post({ t: 'activity', service, busy, atMs }),
    ignoreUserAgents: init.ignoreUserAgents,
  });
  const httpMetrics = init.metrics ? new HttpMetrics() : null;
  const server = new Server(routes, {
    httpPort: init.httpPort,
    httpsPort: init.httpsPort,
    bindPorts: init.bindPorts,
    bindAddress: init.bindAddress,
    clientHeadersTimeoutMs: init.clientHeadersTimeoutMs,
    httpMetrics,
    reusePort: true,
  });
  routes.certificatesChanged(init.defaultCertificate);
  await inTurn(() => routes.apply(init.services));
  await server.start();
  channel.post({ t: 'listening' });

  async function stop(): Promise<void> {
    await server.stop();
    routes.close();
    log.flushSync();
  }
}

const init = workerData as WorkerInit | null;
if (parentPort !== null && init?.kind === 'kamal-napper-worker') await serve(parentPort, init);
