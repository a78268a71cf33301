// Starting the proxy for tests: in-process (fast; most tests) or as the real
// executable in a child process (CLI, signals, SIGKILL + restart).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { log } from '../../src/log/logger.ts';
import { startProxy } from '../../src/proxy/proxy.ts';
import { parseWorkers, workersSetting } from '../../src/config/workers.ts';
import type { RunningProxy } from '../../src/proxy/proxy.ts';
import type { NapConfig } from '../../src/nap/nap-config.ts';
import type { DeployParams } from '../../src/control/protocol.ts';
import { defaultServiceOptions, defaultTargetOptions } from '../../src/config/service-options.ts';
import type { ServiceOptions, TargetOptions } from '../../src/config/service-options.ts';
import { scratchDir } from './scratch-dir.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/kamal-proxy');

// In-process proxies log to a file instead of the test runner's stdout.
export function quietLogs(): string {
  const file = join(scratchDir('kn-log-'), 'proxy.log');
  log.setFd(openSync(file, 'a'));
  return file;
}

// The `Request` lines in-process proxies have written to quietLogs()'s file,
// parsed, once the logger's batch is out.
export async function requestLogLines(logFile: string): Promise<Record<string, unknown>[]> {
  await log.flush();
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"msg":"Request"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export async function requestLogLine(logFile: string, requestId: string): Promise<Record<string, unknown> | undefined> {
  return (await requestLogLines(logFile)).find((l) => l.request_id === requestId);
}

export interface TestProxy extends RunningProxy {
  readonly dir: string;
  readonly statePath: string;
  url(path?: string): string;
}

// `options` is for the few tests that need more: Docker access (napping
// containers) or their own napping defaults. Without it, as before.
export interface TestProxyOptions {
  docker?: boolean; // default false, as `kamal-proxy run` without --docker
  napConfig?: NapConfig; // default: loadNapConfig() (environment and config file)
  // Bind no address, as `kamal-proxy run` does: Node listens dual-stack on `::`,
  // where IPv4 clients arrive as IPv4-mapped IPv6 addresses. Default 127.0.0.1.
  listenAll?: boolean;
  workers?: number; // threads that serve; default KAMAL_NAPPER_WORKERS, as `run`
  metricsPort?: number; // default none
}

export async function startTestProxy(dir = scratchDir('kn-test-'), options: TestProxyOptions = {}): Promise<TestProxy> {
  const statePath = join(dir, 'kamal-proxy.state');
  const proxy = await startProxy({
    httpPort: 0,
    httpsPort: 0,
    ...(options.listenAll ? {} : { bindAddress: '127.0.0.1' }),
    socketPath: join(dir, 'kamal-proxy.sock'),
    statePath,
    ...(options.docker !== undefined ? { docker: options.docker } : {}),
    ...(options.napConfig !== undefined ? { napConfig: options.napConfig } : {}),
    // As `run` takes it: the suites run with one thread and again with two.
    workers: options.workers ?? parseWorkers(workersSetting()),
    ...(options.metricsPort !== undefined ? { metricsPort: options.metricsPort } : {}),
  });
  return { ...proxy, dir, statePath, url: (path = '/') => `http://127.0.0.1:${proxy.httpPort}${path}` };
}

export function deployParams(
  service: string,
  targets: string[],
  o: { options?: Partial<ServiceOptions>; target?: Partial<TargetOptions>; deployTimeoutMs?: number; drainTimeoutMs?: number; force?: boolean; readers?: string[] } = {},
): DeployParams {
  const targetOptions = { ...defaultTargetOptions(), ...o.target };
  targetOptions.healthCheck = { ...targetOptions.healthCheck, intervalMs: 50, timeoutMs: 1_000, ...o.target?.healthCheck };
  return {
    service,
    targets,
    readers: o.readers ?? [],
    deployTimeoutMs: o.deployTimeoutMs ?? 5_000,
    drainTimeoutMs: o.drainTimeoutMs ?? 5_000,
    force: o.force ?? false,
    serviceOptions: { ...defaultServiceOptions(), ...o.options },
    targetOptions,
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

// Runs bin/kamal-proxy the way Kamal does (docker exec kamal-proxy kamal-proxy ...).
export function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(BIN, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
  });
}

// `kamal-proxy run` as a child process; resolves once `Server started` is
// logged. The child is killed when the test ends, whatever its outcome.
export function spawnProxy(
  args: string[],
  env: NodeJS.ProcessEnv,
  t: { after(fn: () => void): void },
): Promise<{ child: ChildProcess; output: () => string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(BIN, ['run', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let out = '';
    const onData = (d: Buffer) => {
      out += d;
      if (out.includes('"Server started"')) resolvePromise({ child, output: () => out });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d) => (out += d));
    child.on('exit', (code) => reject(new Error(`proxy exited with ${code}: ${out}`)));
  });
}
