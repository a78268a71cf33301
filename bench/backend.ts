// The upstream every target ends at: nginx serving a static 100-byte file when
// nginx is installed (fast enough not to be the bottleneck), else a small
// node:http server.
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { start, type Child } from './children.ts';
import { freePort, waitForPort } from './net.ts';
import { backendConfig, startNginx } from './nginx.ts';
import { NODE } from './tools.ts';

export type Backend = { kind: 'nginx' | 'node'; port: number; child: Child };

export async function startBackend(dir: string, nginx: string | undefined): Promise<Backend> {
  const port = await freePort();
  let child: Child;
  if (nginx) {
    const prefix = join(dir, 'backend');
    mkdirSync(prefix);
    child = startNginx('nginx backend', nginx, prefix, backendConfig(port, prefix));
  } else {
    child = start('node backend', NODE, [join(import.meta.dirname, 'node-backend.ts'), String(port)], { stderr: 'inherit' });
  }
  await waitForPort(port, `${nginx ? 'nginx' : 'node'} backend`);
  return { kind: nginx ? 'nginx' : 'node', port, child };
}
