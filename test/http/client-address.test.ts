// The client address reported to apps and in the request log: IPv4-mapped
// IPv6 addresses (an IPv4 client on a dual-stack listener) become plain IPv4,
// as Go reports them; every real IPv6 address stays as it is.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientAddress } from '../../src/http/client-address.ts';

test('an IPv4-mapped address becomes the IPv4 address', () => {
  assert.equal(clientAddress('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(clientAddress('::ffff:203.0.113.7'), '203.0.113.7');
});

test('IPv4 and real IPv6 addresses stay as they are, including those that start like a mapped one', () => {
  for (const address of ['127.0.0.1', '::1', 'fe80::1', '2001:db8::ffff:1.2.3.4', '::ffff:abcd', '::ffff:0:1.2.3.4']) {
    assert.equal(clientAddress(address), address);
  }
});

test('no address (a socket already gone) is an empty string', () => {
  assert.equal(clientAddress(undefined), '');
});
