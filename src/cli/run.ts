// `kamal-proxy run`: start the server. Options may also come from the
// environment (KAMAL_PROXY_HTTP_PORT or HTTP_PORT, ...); a flag wins.
import * as d from '../config/defaults.ts';
import { envBool, envInt } from '../config/env.ts';
import { parseWorkers, WORKERS_VAR, workersSetting } from '../config/workers.ts';
import { log } from '../log/logger.ts';
import { parseGoBool } from '../util/go-bool.ts';
import type { Command } from './command.ts';
import type { FlagSpec } from './flags.ts';

function runFlags(env: NodeJS.ProcessEnv = process.env): FlagSpec[] {
  return [
    { name: 'debug', type: 'bool', default: envBool('DEBUG', false, env), usage: 'Include debugging logs' },
    { name: 'http-port', type: 'int', default: envInt('HTTP_PORT', d.DEFAULT_HTTP_PORT, env), usage: 'Port to serve HTTP traffic on' },
    { name: 'https-port', type: 'int', default: envInt('HTTPS_PORT', d.DEFAULT_HTTPS_PORT, env), usage: 'Port to serve HTTPS traffic on' },
    { name: 'metrics-port', type: 'int', default: envInt('METRICS_PORT', d.DEFAULT_METRICS_PORT, env), usage: 'Publish metrics on the specified port (default zero to disable)' },
    { name: 'workers', type: 'string', default: workersSetting(env), usage: `Threads that serve requests: a number, or auto for one per core, at most ${d.WORKERS_AUTO_MAX} (env ${WORKERS_VAR})` },
    { name: 'http3', type: 'bool', default: false, usage: 'Enable HTTP/3 (accepted, not built yet)' },
    // Napping containers needs the Docker Engine API; access is opt-in.
    { name: 'docker', type: 'bool', default: parseGoBool(env.KAMAL_NAPPER_DOCKER ?? '') ?? false, usage: 'Allow napping services to start and stop their Docker containers (needs /var/run/docker.sock or DOCKER_HOST; env KAMAL_NAPPER_DOCKER=1)' },
  ];
}

export const runCommand: Command = {
  name: 'run',
  summary: 'Run the server',
  usage: 'run',
  args: 0,
  flags: runFlags(),
  async action(f) {
    log.debugEnabled = f.values.debug as boolean;
    const workers = parseWorkers(f.values.workers as string);
    // Loaded here, not at the top: every other command is a short-lived client
    // run by `docker exec`, and should not pay for loading the server (TLS, ACME).
    const { startProxy } = await import('../proxy/proxy.ts');
    const proxy = await startProxy({
      httpPort: f.values['http-port'] as number,
      httpsPort: f.values['https-port'] as number,
      metricsPort: f.values['metrics-port'] as number,
      docker: f.values.docker as boolean,
      workers,
      // Our extension: another ACME CA for services deployed without one.
      acmeDirectory: process.env.ACME_DIRECTORY ?? '',
    });
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        void proxy.stop().then(resolve);
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    return 0;
  },
};
