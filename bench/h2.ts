// The HTTP/2-over-TLS part of `npm run bench`: the same three targets as the
// wrk part, each with TLS and HTTP/2 in front, measured with h2load.
import { join } from 'node:path';
import type { Backend } from './backend.ts';
import { BODY } from './body.ts';
import { sleep } from './children.ts';
import { h2Failure, h2load, type H2Result } from './h2load.ts';
import type { Round } from './report.ts';
import { interleavedRounds } from './rounds.ts';
import { startNginxProxy, startNginxTlsDirect, tail, TLS_SERVICE, type Napper, type Target } from './targets.ts';
import { h2Get, type Cert } from './tls.ts';
import type { Tools } from './tools.ts';

export type H2Tools = { nginx: string; h2load: string; openssl: string };

// The tools the part needs, or why it is skipped: without nginx there is no
// TLS server to serve as the direct reference.
export function h2Tools(tools: Tools, nginxWanted: boolean): H2Tools | string {
  const { nginx, h2load: bin, openssl } = tools;
  if (!nginx) return nginxWanted ? 'nginx is not installed, so there is no direct TLS reference' : '--no-nginx: there is no direct TLS reference without nginx';
  if (!bin) return 'h2load is not installed (sudo apt-get install -y nghttp2-client)';
  if (!openssl) return 'openssl is not installed';
  return { nginx, h2load: bin, openssl };
}

// The napper must already run with the TLS service deployed (startNapper with the certificate).
export async function startH2Targets(dir: string, nginx: string, backend: Backend, napper: Napper, cert: Cert): Promise<Target[]> {
  return [
    await startNginxTlsDirect(dir, nginx, cert),
    { name: napper.name, port: napper.httpsPort },
    await startNginxProxy(dir, nginx, backend, cert),
  ];
}

export async function checkH2Target(t: Target, cert: Cert): Promise<void> {
  const res = await h2Get(t.port, cert);
  if (res.status !== 200 || !res.body.equals(BODY)) {
    throw new Error(`HTTP/2 correctness check failed for ${t.name}: status ${res.status}, ` +
      `${res.body.length}-byte body ${JSON.stringify(res.body.toString('utf8', 0, 200))} (want 200 and the 100-byte body)`);
  }
}

// Both services reach the same backend, so the body alone cannot tell whether
// bench.test was routed to the TLS service: its request log line can.
export async function checkNapperRouting(napper: Napper): Promise<void> {
  const logged = (s: string) => s.includes(`"service":"${TLS_SERVICE}"`) && s.includes('"proto":"HTTP/2.0"');
  for (let i = 0; i < 40; i++) {
    if (tail(napper.logFile, 65536).split('\n').some(logged)) return;
    await sleep(50);
  }
  throw new Error(`kamal-napper logged no HTTP/2 request of service ${TLS_SERVICE} after the check; log tail:\n${tail(napper.logFile, 2000)}`);
}

export function h2Rounds(bin: string, dir: string, targets: Target[], rounds: number, duration: number, warmup: number): Promise<Round<H2Result>[]> {
  const logFile = join(dir, 'h2load-requests.log');
  return interleavedRounds(
    {
      label: 'HTTP/2 ',
      logPrefix: 'h2 round',
      warmUp: (port) => h2load(bin, port, warmup),
      measure: (port) => h2load(bin, port, duration, { logFile }),
      failure: h2Failure,
      detail: (r) => `(mean ${r.meanMs.toFixed(2)}, max ${r.maxMs.toFixed(2)} ms)`,
    },
    targets,
    rounds,
  );
}

// One line naming what was negotiated, which nginx and Node choose separately.
export function negotiated(rounds: Round<H2Result>[]): string {
  const seen = new Map<string, Set<string>>();
  for (const round of rounds) {
    for (const [name, r] of Object.entries(round)) {
      const what = `${r.protocol} over ${r.tls}`;
      seen.set(what, (seen.get(what) ?? new Set()).add(name));
    }
  }
  if (seen.size === 1) return `all targets: ${[...seen.keys()][0]}`;
  return [...seen].map(([what, names]) => `${[...names].join(', ')}: ${what}`).join('; ');
}
