// Help and mistyped commands, as a newcomer meets them: by either name of the
// executable, with cobra's wording (help for every command and group, the name
// the program was called by, "Did you mean this?" for typos).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ROOT } from '../helpers/proxy.ts';
import type { CliResult } from '../helpers/proxy.ts';

// No proxy runs: help needs none, and a typo must fail before any connection.
function run(name: 'kamal-proxy' | 'kamal-napper', args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(join(ROOT, 'bin', name), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('help', () => {
  test('`help rollout` and `rollout --help` describe the group', async () => {
    for (const args of [['help', 'rollout'], ['rollout', '--help']]) {
      const r = await run('kamal-proxy', args);
      assert.deepEqual([r.code, r.stderr], [0, ''], args.join(' '));
      assert.match(r.stdout, /^Usage:\n {2}kamal-proxy rollout \[command\]\n/m, args.join(' '));
      for (const sub of ['deploy', 'set', 'stop']) assert.match(r.stdout, new RegExp(`^ {2}${sub}\\s+\\S`, 'm'), `${args.join(' ')}: ${sub}`);
      assert.match(r.stdout, /^Use "kamal-proxy rollout \[command\] --help" for more information about a command\.$/m);
    }
  });

  test('`help rollout deploy` is the same as `rollout deploy --help`', async () => {
    const viaHelp = await run('kamal-proxy', ['help', 'rollout', 'deploy']);
    assert.deepEqual([viaHelp.code, viaHelp.stderr], [0, '']);
    assert.match(viaHelp.stdout, /^Usage:\n {2}kamal-proxy rollout deploy <service> \[flags\]\n/m);
    assert.match(viaHelp.stdout, /--target strings/);
    assert.equal((await run('kamal-proxy', ['rollout', 'deploy', '--help'])).stdout, viaHelp.stdout);
  });

  test('help names the program by the name it was called by', async () => {
    const status = await run('kamal-napper', ['help', 'status']);
    assert.equal(status.code, 0);
    assert.match(status.stdout, /^Usage:\n {2}kamal-napper status \[flags\]\n/m);
    assert.doesNotMatch(status.stdout, /kamal-proxy status/);

    const root = await run('kamal-napper', ['--help']);
    assert.match(root.stdout, /^ {2}kamal-napper \[command\]$/m);
    assert.match(root.stdout, /^Use "kamal-napper \[command\] --help" for more information about a command\.$/m);
    assert.match((await run('kamal-proxy', ['help', 'status'])).stdout, /^ {2}kamal-proxy status \[flags\]$/m);
  });

  test('an unknown help topic is reported as cobra does, with the usage', async () => {
    const r = await run('kamal-proxy', ['help', 'deplo']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^Unknown help topic \[`deplo`\]\nUsage:\n {2}kamal-proxy \[command\]\n/);
  });

  test('flags that are accepted but do nothing yet say so, and only those', async () => {
    const runHelp = (await run('kamal-proxy', ['run', '--help'])).stdout;
    const deployHelp = (await run('kamal-proxy', ['deploy', '--help'])).stdout;
    assert.match(runHelp, /--http3\b[^\n]*not built yet/);
    for (const [help, flag] of [
      [runHelp, 'http-port'],
      [runHelp, 'metrics-port'],
      [deployHelp, 'tls-on-demand-url'],
      [deployHelp, 'client-ip-header'],
      [deployHelp, 'exclude-metrics-path'],
    ] as const) {
      assert.match(help, new RegExp(`--${flag}\\b`), flag);
      assert.doesNotMatch(help, new RegExp(`--${flag}\\b[^\\n]*not built`), flag);
    }
  });
});

describe('mistyped commands', () => {
  test('a near miss gets "Did you mean this?" and where to find usage, exactly as cobra prints them', async () => {
    const r = await run('kamal-proxy', ['deplo', 'app']);
    assert.deepEqual(r, {
      code: 1,
      stdout: '',
      stderr: `Error: unknown command "deplo" for "kamal-proxy"\n\nDid you mean this?\n\tdeploy\n\nRun 'kamal-proxy --help' for usage.\n`,
    });
  });

  test('suggestions: Levenshtein distance up to 2 (any case) or a prefix, every match', async () => {
    const cases: [string, string[]][] = [
      ['DEPLOY', ['deploy']],
      ['lst', ['list']],
      ['sto', ['stop', 'stop-all']],
      ['wkae', ['wake']],
    ];
    for (const [typed, suggested] of cases) {
      const r = await run('kamal-proxy', [typed]);
      assert.equal(r.code, 1, typed);
      const listed = /Did you mean this\?\n((?:\t.*\n)+)/.exec(r.stderr)?.[1]?.trim().split(/\n\t/);
      assert.deepEqual(listed, suggested, typed);
    }
  });

  test('no near miss: the error and the usage hint only', async () => {
    const r = await run('kamal-proxy', ['frobnicate']);
    assert.deepEqual([r.code, r.stderr], [1, `Error: unknown command "frobnicate" for "kamal-proxy"\nRun 'kamal-proxy --help' for usage.\n`]);
  });

  test('by the other name, the hint names it', async () => {
    const r = await run('kamal-napper', ['staus']);
    assert.equal(r.stderr, `Error: unknown command "staus" for "kamal-napper"\n\nDid you mean this?\n\tstatus\n\nRun 'kamal-napper --help' for usage.\n`);
  });

  test('a mistyped rollout command gets the same help', async () => {
    const r = await run('kamal-proxy', ['rollout', 'deplyo', 'app']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `Error: unknown command "deplyo" for "kamal-proxy rollout"\n\nDid you mean this?\n\tdeploy\n\nRun 'kamal-proxy rollout --help' for usage.\n`);
  });
});
