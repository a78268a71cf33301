// `kamal-proxy run` expected to fail at start, as the real executable:
// resolves once it has printed its `Error: ...` line, or once it has logged
// `Server started` anyway (`started`, which the test then reports), so a run
// that wrongly stays up fails the test instead of hanging it. The child is
// killed when the test ends, whatever its outcome.
import { spawn } from 'node:child_process';
import { BIN } from './proxy.ts';

export interface FailedStart {
  readonly started: boolean;
  readonly stdout: string; // as far as it got
  readonly stderr: string;
  readonly exitCode: Promise<number | null>;
}

// `prefix` runs the executable under another command (setpriv).
export function startExpectingFailure(
  prefix: string[],
  args: string[],
  env: NodeJS.ProcessEnv,
  t: { after(fn: () => void): void },
): Promise<FailedStart> {
  const argv = [...prefix, BIN, 'run', ...args];
  const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const exitCode = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let done = false;
    const settle = (started: boolean) => {
      if (done) return;
      done = true;
      resolve({ started, stdout, stderr, exitCode });
    };
    child.stdout!.on('data', (d) => {
      stdout += d;
      if (stdout.includes('"Server started"')) settle(true);
    });
    child.stderr!.on('data', (d) => {
      stderr += d;
      if (/^Error: .*\n/m.test(stderr)) settle(false);
    });
    child.once('close', () => settle(false));
  });
}
