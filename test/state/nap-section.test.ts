// Our `napper` section of the state file: the runtime is one of two kinds in
// memory, but on disk it stays flat (idle_timeout, wake_timeout, container,
// command, group), so files written before still read, and read back they
// are written byte for byte as before.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_NAP_IDLE_TIMEOUT_MS, DEFAULT_NAP_WAKE_TIMEOUT_MS } from '../../src/config/defaults.ts';
import { decodeState, encodeState } from '../../src/state/state-codec.ts';

// A service as the proxy writes it, with a napper section.
function file(napper: string): string {
  return (
    '[{"name":"app","options":{"hosts":[""],"path_prefixes":["/"],"tls_enabled":false,"tls_certificate_path":"","tls_private_key_path":"",' +
    '"tls_on_demand_url":"","tls_redirect":true,"canonical_host":"","acme_directory":"","acme_cache_path":"","error_page_path":"",' +
    '"strip_prefix":true,"writer_affinity_timeout":1000000000,"read_targets_accept_websockets":false,"exclude_metrics_paths":null,' +
    '"client_ip_header":""},"target_options":{"health_check_config":{"path":"/up","port":0,"interval":1000000000,"timeout":5000000000,' +
    '"host":""},"response_timeout":30000000000,"buffer_requests":false,"buffer_responses":false,"max_memory_buffer_size":1048576,' +
    '"max_request_body_size":0,"max_response_body_size":0,"log_request_headers":null,"log_response_headers":null,"forward_headers":false,' +
    '"scope_cookie_paths":false},"active_targets":["a:80"],"active_readers":[],"rollout_targets":null,"rollout_readers":null,' +
    `"pause_controller":{"state":0,"stop_message":"","fail_after":0},"rollout_controller":null,"napper":${napper}}]\n`
  );
}

function napOf(text: string) {
  const { services, errors } = decodeState(text);
  assert.deepEqual(errors, []);
  return services[0]!.nap!;
}

describe('the napper section', () => {
  test('a process, as written before the runtime was a union, reads and writes back the same', () => {
    const text = file('{"idle_timeout":5000000000,"wake_timeout":60000000000,"container":"","command":"sleep 1","group":false,"asleep":true,"last_activity_ms":123,"wakes":2}');
    const nap = napOf(text);
    assert.deepEqual(nap, {
      options: { idleTimeoutMs: 5_000, wakeTimeoutMs: 60_000, runtime: { kind: 'process', command: 'sleep 1' } },
      asleep: true,
      lastActivityMs: 123,
      wakes: 2,
      memoryAtSleepBytes: 0, // unknown: written before it was kept
    });
    assert.equal(encodeState(decodeState(text).services), text);
  });

  test('a sleeping app keeps the memory it was put to sleep with; an awake one writes none', () => {
    const asleep = file('{"idle_timeout":5000000000,"wake_timeout":60000000000,"container":"","command":"sleep 1","group":false,"asleep":true,"last_activity_ms":123,"wakes":2,"memory_at_sleep_bytes":52428800}');
    assert.equal(napOf(asleep).memoryAtSleepBytes, 52_428_800);
    assert.equal(encodeState(decodeState(asleep).services), asleep);
    const services = decodeState(asleep).services;
    services[0]!.nap = { ...services[0]!.nap!, asleep: false };
    assert.doesNotMatch(encodeState(services), /memory_at_sleep_bytes/);
  });

  test('containers: a named one with its group, or each target\'s host', () => {
    const named = file('{"idle_timeout":0,"wake_timeout":1000000000,"container":"abc","command":"","group":true,"asleep":false,"last_activity_ms":1,"wakes":0}');
    assert.deepEqual(napOf(named).options.runtime, { kind: 'docker', container: 'abc', group: true });
    assert.equal(encodeState(decodeState(named).services), named);

    const targets = file('{"idle_timeout":0,"wake_timeout":1000000000,"container":"","command":"","group":false,"asleep":false,"last_activity_ms":1,"wakes":0}');
    assert.deepEqual(napOf(targets).options.runtime, { kind: 'docker', container: '', group: false });
    assert.equal(encodeState(decodeState(targets).services), targets);
  });

  test('missing keys take the napping defaults; a command makes it a process whatever else is there', () => {
    assert.deepEqual(napOf(file('{}')).options, {
      idleTimeoutMs: DEFAULT_NAP_IDLE_TIMEOUT_MS,
      wakeTimeoutMs: DEFAULT_NAP_WAKE_TIMEOUT_MS,
      runtime: { kind: 'docker', container: '', group: false },
    });
    assert.deepEqual(napOf(file('{"container":"abc","command":"run-it","group":true}')).options.runtime, { kind: 'process', command: 'run-it' });
  });

  test('a value of the wrong type drops the service, naming the field', () => {
    const { services, errors } = decodeState(file('{"command":7}'));
    assert.deepEqual(services, []);
    assert.match(errors[0]!.message, /^napper\.command: expected a string, got number 7$/);
  });
});
