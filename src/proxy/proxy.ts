// The whole running proxy: router with restored state, client listeners,
// the metrics port (when asked for) and the control socket. `kamal-proxy
// run`, the demo and the tests all start it through here.
import { dirname, join } from 'node:path';
import { dataDir, socketPath as defaultSocketPath, stateFilePath } from '../config/paths.ts';
import { loadNapConfig } from '../nap/nap-config.ts';
import type { NapConfig } from '../nap/nap-config.ts';
import { ControlServer } from '../control/server.ts';
import { claimSocketPath } from '../control/socket-claim.ts';
import type { DockerEngine } from '../docker/engine.ts';
import { log } from '../log/logger.ts';
import { Router } from '../router/router.ts';
import { checkStateWritable, removeLeftoverTempFiles } from '../state/state-file.ts';
import type { MetricsServer } from '../server/metrics-server.ts';
import { Server } from '../server/server.ts';
import { useUpstreamShare } from '../upstream/client-choice.ts';
import type { WorkerPool } from '../workers/worker-pool.ts';

export interface ProxyConfig {
  httpPort: number;
  httpsPort: number;
  metricsPort?: number; // --metrics-port; 0 or unset: no metrics
  socketPath?: string;
  statePath?: string;
  bindAddress?: string;
  // Napping containers needs the Docker Engine; off unless asked for.
  docker?: boolean;
  napConfig?: NapConfig;
  runtimeDir?: string; // pid and log files of --nap-command apps
  acmeDirectory?: string; // default ACME directory (`ACME_DIRECTORY`); "" = Let's Encrypt
  acmeCaPem?: string; // trust for a private ACME server (tests)
  clientHeadersTimeoutMs?: number; // CLIENT_HEADERS_TIMEOUT_MS unless set (tests)
  // Threads that serve requests, this one included (`run --workers`); 1 unless set.
  workers?: number;
}

export interface RunningProxy {
  readonly router: Router;
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly metricsPort: number; // 0 without metrics
  readonly socketPath: string;
  // Requests a service holds now, in every thread: for a pause or a wake.
  heldRequests(service: string): Promise<number>;
  stop(): Promise<void>;
}

export async function startProxy(config: ProxyConfig): Promise<RunningProxy> {
  const socketPath = config.socketPath ?? defaultSocketPath();
  const statePath = config.statePath ?? stateFilePath();
  // First, before anything is opened or touched: a second `run` beside a
  // live proxy stops here, leaving its socket and its state files alone.
  await claimSocketPath(socketPath);
  removeTempFilesLeftByACrash(statePath);
  // Loaded only with --docker.
  const docker = config.docker ? (await import('../docker/engine.ts')).DockerEngine.fromEnv() : null;
  if (docker !== null) void explainDockerAccess(docker);
  const threads = Math.max(1, config.workers ?? 1);
  // Before the first pool is made (restore): each thread takes its share.
  useUpstreamShare(threads);
  const napConfig = config.napConfig ?? loadNapConfig();
  const router = new Router(statePath, {
    config: napConfig,
    docker,
    runtimeDir: config.runtimeDir ?? join(config.statePath ? dirname(statePath) : dataDir(), 'nap'),
  }, { defaultDirectory: config.acmeDirectory, acmeCaPem: config.acmeCaPem });
  await router.restore();
  await warnIfStateUnwritable(statePath);
  // Loaded only with --metrics-port.
  const metrics: MetricsServer | null = config.metricsPort
    ? new (await import('../server/metrics-server.ts')).MetricsServer(router, config.metricsPort, config.bindAddress)
    : null;
  const server = new Server(router, { ...config, httpMetrics: metrics?.httpMetrics ?? null, reusePort: threads > 1 });
  const control = new ControlServer(socketPath, router);
  let workers: WorkerPool | null = null;
  try {
    // First, as kamal-proxy starts it.
    await metrics?.start();
    await server.start();
    // Loaded only with more than one thread.
    if (threads > 1) {
      workers = new (await import('../workers/worker-pool.ts')).WorkerPool(router, {
        threads,
        httpPort: config.httpPort,
        httpsPort: config.httpsPort,
        bindPorts: { http: server.httpPort, https: server.httpsPort },
        bindAddress: config.bindAddress,
        clientHeadersTimeoutMs: config.clientHeadersTimeoutMs,
        metrics: metrics !== null,
        ignoreUserAgents: napConfig.ignoreUserAgents,
      });
      const pool = workers;
      metrics?.addThreads(() => pool.metrics());
      await pool.start();
    }
    await control.start();
  } catch (err) {
    // A port or the socket cannot be had: close what did open (a proxy
    // serving 404s with no control socket helps nobody), so `run` exits 1.
    await Promise.all([control.stop(), server.stop(), workers?.stop(), metrics?.stop()]);
    router.close();
    throw err;
  }
  log.info('Server started', { http: server.httpPort, https: server.httpsPort, ...(threads > 1 ? { workers: threads } : {}) });

  let stopping: Promise<void> | null = null;
  return {
    router,
    httpPort: server.httpPort,
    httpsPort: server.httpsPort,
    metricsPort: metrics?.port ?? 0,
    socketPath,
    async heldRequests(name) {
      const service = router.service(name);
      const here = (service?.pause.waiting ?? 0) + (service?.napper?.stats.heldNow ?? 0);
      const elsewhere = (await workers?.metrics()) ?? [];
      return elsewhere.flatMap((w) => w.held).filter((h) => h.service === name).reduce((sum, h) => sum + h.now + h.paused, here);
    },
    stop() {
      stopping ??= (async () => {
        await Promise.all([control.stop(), server.stop(), workers?.stop(), metrics?.stop()]);
        router.close();
        log.info('Server stopped');
        log.flushSync();
      })();
      return stopping;
    },
  };
}

// Temp files of saves cut short by a crash; ours only, from before this
// process started.
function removeTempFilesLeftByACrash(statePath: string): void {
  const startedAtMs = Date.now() - process.uptime() * 1000;
  const removed = removeLeftoverTempFiles(statePath, startedAtMs);
  if (removed.length > 0) log.warn('Removed temp files left by an interrupted save', { files: removed });
}

// kamal-proxy starts all the same, and so do we; but every command that would
// change a service is refused until this is fixed, so say so at once.
async function warnIfStateUnwritable(statePath: string): Promise<void> {
  try {
    await checkStateWritable(statePath);
  } catch (err) {
    log.error('State cannot be saved: deploy, remove and every other change will fail until it can', { path: statePath, error: (err as Error).message });
  }
}

// Once, at start: a proxy that cannot use Docker says what to add.
async function explainDockerAccess(engine: DockerEngine): Promise<void> {
  const { dockerAccessProblem } = await import('../docker/access.ts');
  const problem = await dockerAccessProblem(engine);
  if (problem !== null) log.error(`Docker access: ${problem}`);
}
