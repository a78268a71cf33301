// Napping services in tests: an app run by --nap-command (test/fixtures/nap-app.ts)
// on a fresh 127.0.0.1 port, with a start log to count its starts.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NapRequest } from '../../src/control/protocol.ts';
import { freePort } from './free-port.ts';
import { ROOT } from './proxy.ts';

export const NODE = join(ROOT, 'node_modules/.bin/node');
export const NAP_APP = join(ROOT, 'test/fixtures/nap-app.ts');

export interface NapApp {
  port: number;
  address: string;
  startLog: string;
  command: string;
  starts(): number;
}

export async function napApp(dir: string, name: string, env: Record<string, string> = {}, before = ''): Promise<NapApp> {
  const port = await freePort();
  const startLog = join(dir, `${name}.starts`);
  const vars = Object.entries({ PORT: String(port), START_LOG: startLog, APP_NAME: name, ...env })
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const command = `${before}exec env ${vars} ${NODE} --disable-warning=ExperimentalWarning ${NAP_APP}`;
  return {
    port,
    address: `127.0.0.1:${port}`,
    startLog,
    command,
    starts: () => (existsSync(startLog) ? readFileSync(startLog, 'utf8').trim().split('\n').filter(Boolean).length : 0),
  };
}

export function napRequest(o: Partial<NapRequest> & { command: string }): NapRequest {
  return { idleTimeoutMs: null, wakeTimeoutMs: 10_000, container: '', group: false, ...o };
}
