// The whole running proxy: router with restored state, client listeners and
// the control socket. `kamal-proxy run`, the demo and the tests all start it
// through here.
import { socketPath as defaultSocketPath, stateFilePath } from '../config/paths.ts';
import { ControlServer } from '../control/server.ts';
import { log } from '../log/logger.ts';
import { Router } from '../router/router.ts';
import { Server } from './server.ts';

export interface ProxyConfig {
  httpPort: number;
  httpsPort: number;
  socketPath?: string;
  statePath?: string;
  bindAddress?: string;
}

export interface RunningProxy {
  readonly router: Router;
  readonly httpPort: number;
  readonly socketPath: string;
  stop(): Promise<void>;
}

export async function startProxy(config: ProxyConfig): Promise<RunningProxy> {
  const socketPath = config.socketPath ?? defaultSocketPath();
  const router = new Router(config.statePath ?? stateFilePath());
  await router.restore();
  const server = new Server(router, config);
  await server.start();
  const control = new ControlServer(socketPath, router);
  await control.start();
  log.info('Server started', { http: server.httpPort, https: config.httpsPort });

  let stopping: Promise<void> | null = null;
  return {
    router,
    httpPort: server.httpPort,
    socketPath,
    stop() {
      stopping ??= (async () => {
        await Promise.all([control.stop(), server.stop()]);
        router.close();
        log.info('Server stopped');
        log.flushSync();
      })();
      return stopping;
    },
  };
}
