// The deploy option table, walked row by row: each option given a value
// other than its default as a flag comes out where it belongs, is written to
// the state file under its kamal-proxy name in kamal-proxy's units, reads back
// unchanged, and (when a label may set it) reads the same from a
// `kamal-napper.<flag>` label. A row added without its wiring fails here;
// an options field without a row does not compile (service-options.ts,
// nap-options.ts, cli/deploy.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { buildDeployParams, deployFlags } from '../../src/cli/deploy.ts';
import { parseFlags } from '../../src/cli/flags.ts';
import { LETS_ENCRYPT_STAGING_URL } from '../../src/config/defaults.ts';
import { DEPLOY_OPTIONS } from '../../src/config/deploy-options.ts';
import type { DeployOption } from '../../src/config/deploy-options.ts';
import { napSettingsOf } from '../../src/config/nap-options.ts';
import { defaultPauseState } from '../../src/config/service-options.ts';
import type { ServiceState } from '../../src/config/service-options.ts';
import type { DeployParams } from '../../src/control/protocol.ts';
import { loadNapConfig } from '../../src/nap/nap-config.ts';
import { LabelError, optionsFromLabels } from '../../src/config/option-labels.ts';
import { resolveNapOptions } from '../../src/router/napping.ts';
import { decodeState, encodeState } from '../../src/state/state-codec.ts';

const TARGET = '--target=app:80';

// Flags a value needs beside it to pass deploy's checks.
const COMPANIONS: Record<string, string[]> = {
  tls: ['--host=a.example.com'],
  'tls-on-demand-url': ['--tls'],
  'tls-certificate-path': ['--tls-private-key-path=/k.pem'],
  'tls-private-key-path': ['--tls-certificate-path=/c.pem'],
  'max-request-body': ['--buffer-requests'],
  'max-response-body': ['--buffer-responses'],
};

// Values that a generic one would not survive: deploy checks URLs, and path
// prefixes are normalized on load.
const TEXTS: Record<string, string> = {
  'tls-on-demand-url': 'http://allow.example.com/check',
  'path-prefix': '/one,/two',
  'x-sendfile-root': '/srv/one,/srv/two',
};

// Rows that set another option (deploy.ts): what each must do.
const RULES: Record<string, (p: DeployParams) => unknown> = {
  'tls-staging': (p) => assert.equal(p.serviceOptions.acmeDirectory, LETS_ENCRYPT_STAGING_URL),
};

// Where kamal-proxy's state file keeps each section (spec §1.11).
const WIRE_SECTIONS: Record<string, (service: Record<string, any>) => Record<string, unknown>> = {
  service: (s) => s.options,
  target: (s) => s.target_options,
  healthCheck: (s) => s.target_options.health_check_config,
  nap: (s) => s.napper,
};

function field(o: object, key: string): unknown {
  return (o as Record<string, unknown>)[key];
}

function deploy(argv: string[]): DeployParams {
  const parsed = parseFlags(['svc', ...argv], deployFlags);
  return buildDeployParams(parsed.args[0]!, parsed, { HOME: '/home/kamal-proxy' });
}

// Where a deploy keeps the row's value; undefined for a nap flag not given.
function placed(row: DeployOption, p: DeployParams): unknown {
  switch (row.where) {
    case 'service':
      return field(p.serviceOptions, row.key);
    case 'target':
      return field(p.targetOptions, row.key);
    case 'healthCheck':
      return field(p.targetOptions.healthCheck, row.key);
    case 'nap':
      return p.nap?.[row.key];
    case 'deploy':
      return field(p, row.key);
    case 'rule':
      return undefined;
  }
}

// What a deploy without the flag gets; its default when deploy needs the flag
// (--target, half of the certificate pair, --tls for an on-demand URL).
function withoutFlag(row: DeployOption, others: string[]): unknown {
  try {
    return placed(row, deploy(others));
  } catch {
    return row.default;
  }
}

// A flag text, and the value it means, other than both the flag's default
// and what a deploy without it gets.
function given(row: DeployOption, baseline: unknown): { text: string; value: unknown } {
  const text = TEXTS[row.flag];
  switch (row.type) {
    case 'bool': {
      const value = !(baseline ?? row.default);
      return { text: String(value), value };
    }
    case 'string':
      return { text: text ?? `/value/of/${row.flag}`, value: text ?? `/value/of/${row.flag}` };
    case 'int':
    case 'int64':
      return { text: '4321', value: 4321 };
    case 'duration':
      return { text: '4321ms', value: 4321 };
    case 'stringSlice': {
      const words = (text ?? 'one.example.com,two.example.com').split(',');
      return { text: words.join(','), value: words };
    }
  }
}

// The state a deploy leaves, as the router builds it (normalized: no hosts is
// the catch-all, no prefix is the root).
function stateOf(p: DeployParams): ServiceState {
  const nap = p.nap ? { options: resolveNapOptions(p.nap, loadNapConfig({}, '/nonexistent')), asleep: false, lastActivityMs: 0, wakes: 0 } : null;
  return {
    name: p.service,
    options: {
      ...p.serviceOptions,
      hosts: p.serviceOptions.hosts.length > 0 ? p.serviceOptions.hosts : [''],
      pathPrefixes: p.serviceOptions.pathPrefixes.length > 0 ? p.serviceOptions.pathPrefixes : ['/'],
    },
    targetOptions: p.targetOptions,
    activeTargets: p.targets,
    activeReaders: p.readers,
    rolloutTargets: [],
    rolloutReaders: [],
    pause: defaultPauseState(),
    rollout: null,
    ...(nap ? { nap } : {}),
  };
}

function stored(row: DeployOption, s: ServiceState): unknown {
  switch (row.where) {
    case 'service':
      return field(s.options, row.key);
    case 'target':
      return field(s.targetOptions, row.key);
    case 'healthCheck':
      return field(s.targetOptions.healthCheck, row.key);
    case 'nap':
      return s.nap ? napSettingsOf(s.nap.options)[row.key] : undefined;
    default:
      return undefined;
  }
}

describe('every deploy option, from its row', () => {
  for (const row of DEPLOY_OPTIONS) {
    test(`--${row.flag}`, () => {
      const others = [...(row.flag === 'target' ? [] : [TARGET]), ...(COMPANIONS[row.flag] ?? [])];
      const without = withoutFlag(row, others);
      const { text, value } = given(row, without);
      assert.notDeepEqual(value, without, 'the value differs from a deploy without the flag');
      if (row.type !== 'bool') assert.notDeepEqual(value, row.default, 'the value differs from the default');

      const p = deploy([...others, `--${row.flag}=${text}`]);
      if (row.where === 'rule') {
        assert.ok(RULES[row.flag], `a rule row needs its expectation in RULES: ${row.flag}`);
        RULES[row.flag]!(p);
        return;
      }
      assert.deepEqual(placed(row, p), value, 'from the flag into the options');
      if (row.where === 'deploy') return;

      // Written under kamal-proxy's name, in its units, and read back unchanged.
      const text1 = encodeState([stateOf(p)]);
      const wire = WIRE_SECTIONS[row.where]!(JSON.parse(text1)[0]);
      assert.ok(Object.hasOwn(wire, row.wire), `${row.wire} in the state file`);
      assert.deepEqual(wire[row.wire], row.type === 'duration' ? (value as number) * 1_000_000 : value, 'on the wire');
      const decoded = decodeState(text1);
      assert.deepEqual(decoded.errors, []);
      assert.deepEqual(stored(row, decoded.services[0]!), value, 'after a restart');
      assert.equal(encodeState(decoded.services), text1, 'written again, the same bytes');

      const label = { [`kamal-napper.${row.flag}`]: text };
      if ('label' in row && row.label) {
        const labelled = optionsFromLabels(label, 'c');
        assert.deepEqual(row.where === 'nap' ? labelled.nap : labelled.target, { [row.key]: value }, 'from a label');
      } else {
        assert.throws(() => optionsFromLabels(label, 'c'), LabelError, 'no label sets it');
      }
    });
  }
});

describe('the table', () => {
  test('labels set exactly the nap timeouts and the group, never what names another app to run', () => {
    const labelled = DEPLOY_OPTIONS.filter((row) => row.where === 'nap' && row.label).map((row) => row.flag);
    assert.deepEqual(labelled.sort(), ['idle-timeout', 'nap-group', 'wake-timeout']);
  });

  test("its option sections are kamal-proxy's, key for key", () => {
    const [fixture] = JSON.parse(readFileSync(new URL('../fixtures/kamal-proxy.state', import.meta.url), 'utf8'));
    const wireNames = (where: string) => DEPLOY_OPTIONS.filter((row) => row.where === where).map((row) => ('wire' in row ? row.wire : ''));
    const keys = (o: object) => Object.keys(o).filter((k) => k !== 'health_check_config');
    assert.deepEqual(wireNames('service'), keys(fixture.options), 'options, in order');
    // Then ours (each a label may set), written only when set.
    const ours = new Set<string>(DEPLOY_OPTIONS.filter((row) => row.where === 'target' && 'label' in row && row.label).map((row) => ('wire' in row ? row.wire : '')));
    const theirs = wireNames('target').filter((w) => !ours.has(w));
    assert.deepEqual(theirs, keys(fixture.target_options), 'target_options, in order');
    assert.deepEqual(wireNames('target').slice(0, theirs.length), theirs, "kamal-proxy's target_options before ours");
    assert.deepEqual(wireNames('healthCheck'), keys(fixture.target_options.health_check_config), 'health_check_config, in order');
    assert.deepEqual(wireNames('nap'), ['idle_timeout', 'wake_timeout', 'container', 'command', 'group'], 'our napper section, as written before');
  });

  test('each row is one deploy flag with its help text', () => {
    assert.equal(deployFlags.length, DEPLOY_OPTIONS.length);
    for (const row of DEPLOY_OPTIONS) {
      const flag = deployFlags.find((f) => f.name === row.flag);
      assert.deepEqual(flag, { name: row.flag, type: row.type, default: row.default, usage: row.usage });
    }
  });
});

