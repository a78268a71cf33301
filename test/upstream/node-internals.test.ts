// Node's internals the fast paths run on are checked at load, never trusted:
// a missing or reshaped piece is reported, not thrown (node-internals.ts).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import http from 'node:http';
import { test } from 'node:test';
import { internals, internalsProblem, probeNodeInternals } from '../../src/upstream/node-internals.ts';
import { METHODS, Parser } from '../../src/upstream/http-parser.ts';

const common = createRequire(import.meta.url)('_http_common') as { HTTPParser: new () => object; methods: string[] };
const proto = http.IncomingMessage.prototype;

test('on this Node the internals are usable, and http-parser.ts hands out the real ones', () => {
  assert.equal(internalsProblem, null);
  assert.equal(Parser, common.HTTPParser);
  assert.equal(METHODS, common.methods);
  assert.equal(internals.addHeaderLine, Reflect.get(proto, '_addHeaderLine'));
});

test('a missing module, parser, method table or header folder is reported, not thrown', () => {
  assert.match(String(probeNodeInternals(null, proto)), /_http_common is missing/);
  assert.match(String(probeNodeInternals({ methods: common.methods }, proto)), /HTTPParser/);
  assert.match(String(probeNodeInternals({ HTTPParser: common.HTTPParser }, proto)), /methods/);
  assert.match(String(probeNodeInternals(common, {})), /_addHeaderLine is missing/);
});

test('a parser of another shape is reported: a constant gone, a method gone', () => {
  class NoConstants {}
  assert.match(String(probeNodeInternals({ ...common, HTTPParser: NoConstants }, proto)), /HTTPParser is missing or of another shape/);
  class Renamed extends common.HTTPParser {}
  Object.defineProperty(Renamed, 'kOnBody', { value: undefined });
  assert.match(String(probeNodeInternals({ ...common, HTTPParser: Renamed }, proto)), /another shape/);
});

test('a parser that throws or misreads the test messages is reported', () => {
  const statics = Object.fromEntries(
    ['REQUEST', 'RESPONSE', 'kOnHeaders', 'kOnHeadersComplete', 'kOnBody', 'kOnMessageComplete', 'kLenientNone', 'kLenientOptionalCRBeforeLF'].map((k, i) => [k, i]),
  );
  class Throws {
    initialize(): void {
      throw new Error('gone native');
    }
    execute(): number {
      return 0;
    }
    finish(): void {}
    close(): void {}
  }
  Object.assign(Throws, statics);
  assert.match(String(probeNodeInternals({ HTTPParser: Throws, methods: common.methods }, proto)), /failed a test parse: gone native/);
  class ReadsNothing extends Throws {
    override initialize(): void {}
  }
  assert.match(String(probeNodeInternals({ HTTPParser: ReadsNothing, methods: common.methods }, proto)), /misread a test response/);
  // Methods numbered differently: GET would read as another method.
  assert.match(String(probeNodeInternals({ HTTPParser: common.HTTPParser, methods: ['GET', ...common.methods] }, proto)), /misread a test request/);
});

test('a header folder with other rules is reported', () => {
  const folder = { _addHeaderLine(field: string, value: string, dest: Record<string, string>) { dest[field] = value; } };
  assert.match(String(probeNodeInternals(common, folder)), /folds headers differently/);
});
