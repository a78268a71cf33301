// The README's quick start, its lines exactly as printed, typed one at a time
// into one shell (its `&` jobs and `kill %2 %1` need the same shell). Only the
// ports are swapped for free ones, and HOME and XDG_RUNTIME_DIR for dirs of
// the test's own, so nothing real is touched.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from 'undici';
import { freePort } from '../helpers/free-port.ts';
import { ROOT } from '../helpers/proxy.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';
import { waitFor } from '../helpers/wait.ts';

function quickStartLines(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /^## Quick start[^\n]*\n[\s\S]*?^```sh\n([\s\S]*?)^```$/m.exec(readme);
  assert.ok(block, 'README.md has a quick start with a sh block');
  return block[1]!.split('\n').filter((line) => line.trim() !== '');
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

test("the README's quick start works as written", { timeout: 120_000 }, async (t) => {
  const lines = quickStartLines();
  const ports = new Map([[3000, await freePort()], [8080, await freePort()], [8443, await freePort()]]);
  const withPorts = (line: string) => line.replace(/\b(3000|8080|8443)\b/g, (p) => String(ports.get(Number(p))));
  const home = scratchDir('kn-quick-home-');
  const runtimeDir = scratchDir('kn-quick-run-');
  const socket = join(runtimeDir, 'kamal-proxy.sock');
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_RUNTIME_DIR: runtimeDir };
  delete env.KAMAL_PROXY_SOCKET;

  // One shell for every line, in a process group of its own: without job
  // control its `&` jobs stay in that group, so cleanup reaches them.
  const shell = spawn('bash', [], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  t.after(() => {
    try {
      process.kill(-shell.pid!, 'SIGKILL');
    } catch {
      // already gone: the test's own `kill %2 %1` and `exit` ended it
    }
  });
  let out = '';
  // What went to stdout alone: curl's progress meter (stderr) may land in
  // the middle of its body when both are read as one stream.
  let stdout = '';
  shell.stdout.on('data', (d: Buffer) => {
    out += d;
    stdout += d;
  });
  shell.stderr.on('data', (d: Buffer) => (out += d));
  const closed = new Promise<number | null>((resolve) => shell.once('close', resolve));

  // The exit status and output of a line typed at the prompt.
  let marks = 0;
  const type = async (line: string): Promise<{ status: number; output: string; stdout: string }> => {
    const from = out.length;
    const fromStdout = stdout.length;
    const mark = `::done-${++marks}`;
    shell.stdin.write(`${line}\necho "${mark} $?"\n`);
    const pattern = new RegExp(`${mark} (\\d+)\\n`);
    await waitFor(() => pattern.test(out.slice(from)), 60_000).catch(() => assert.fail(`no end to: ${line}\n${out}`));
    return { status: Number(pattern.exec(out.slice(from))![1]), output: out.slice(from), stdout: stdout.slice(fromStdout) };
  };
  const hasCurl = spawnSync('sh', ['-c', 'command -v curl'], { stdio: 'ignore' }).status === 0;

  for (const written of lines) {
    const line = withPorts(written);
    if (line.trimEnd().endsWith('&')) {
      // A job in the background: what a person waits for before the next line.
      shell.stdin.write(`${line}\n`);
      const ready = / run /.test(line)
        ? () => existsSync(socket)
        : () => accepts(Number(/\b(\d{4,5})\b/.exec(line)![1]));
      await waitFor(ready, 60_000).catch(() => assert.fail(`never ready: ${written}\n${out}`));
    } else if (line.startsWith('curl ') && !hasCurl) {
      // No curl here: the same request, from the test.
      const res = await request(`http://127.0.0.1:${ports.get(8080)}/`, { headers: { host: 'app.example.com' } });
      assert.equal(await res.body.text(), 'Hello from the app\n');
    } else {
      const { status, output, stdout: printed } = await type(line);
      assert.equal(status, 0, `${written}\n${output}`);
      if (line.startsWith('curl ')) assert.match(printed, /^Hello from the app$/m, written);
      if (/ list$/.test(line)) assert.match(output.replace(/\x1b\[[0-9;]*m/g, ''), /^app-web\s+app\.example\.com\s/m, written);
    }
  }

  shell.stdin.end('wait\nexit\n');
  assert.equal(await closed, 0, out);
  assert.equal(await accepts(ports.get(8080)!), false, 'the proxy stopped');
  assert.equal(await accepts(ports.get(3000)!), false, 'the app stopped');
});
