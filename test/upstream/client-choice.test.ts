// The start-up choice between our upstream client and undici's
// (client-choice.ts), and the environment variable that forces it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { envUpstreamClient } from '../../src/config/env.ts';
import { decideUpstreamClient } from '../../src/upstream/client-choice.ts';

test('KAMAL_NAPPER_UPSTREAM_CLIENT: native or undici, any case; unset or empty is undefined; anything else is reported', () => {
  const env = (v?: string) => envUpstreamClient(v === undefined ? {} : { KAMAL_NAPPER_UPSTREAM_CLIENT: v });
  assert.equal(env(), undefined);
  assert.equal(env(''), undefined);
  assert.equal(env('native'), 'native');
  assert.equal(env(' Undici '), 'undici');
  assert.deepEqual(env('fetch'), { unknown: 'fetch' });
});

test('native, with the fast path, when the internals are usable and nothing else is asked; nothing is logged', () => {
  for (const setting of [undefined, 'native'] as const) {
    const { choice, note } = decideUpstreamClient(setting, null);
    assert.deepEqual(choice, { client: 'native', http1FastPath: true });
    assert.equal(note, null);
  }
});

test('undici and node:http when asked for, said at INFO', () => {
  const { choice, note } = decideUpstreamClient('undici', null);
  assert.deepEqual(choice, { client: 'undici', http1FastPath: false });
  assert.deepEqual(note, { level: 'info', msg: 'Using undici for upstream requests', attrs: { reason: 'KAMAL_NAPPER_UPSTREAM_CLIENT=undici' } });
});

test('undici and node:http when the internals are not usable, whatever was asked, with a warning that says why', () => {
  for (const setting of [undefined, 'native', { unknown: 'x' }] as const) {
    const { choice, note } = decideUpstreamClient(setting, '_http_common is missing');
    assert.deepEqual(choice, { client: 'undici', http1FastPath: false });
    assert.equal(note?.level, 'warn');
    assert.equal(note?.msg, 'Node internals unavailable: using undici for upstream requests');
    assert.equal(note?.attrs.reason, '_http_common is missing');
  }
});

test('an unknown value keeps the default, with a warning naming it', () => {
  const { choice, note } = decideUpstreamClient({ unknown: 'fetch' }, null);
  assert.equal(choice.client, 'native');
  assert.equal(note?.level, 'warn');
  assert.deepEqual(note?.attrs, { ignored: 'KAMAL_NAPPER_UPSTREAM_CLIENT=fetch' });
});
