// The response filters between an upstream response and the client: their
// order, and --buffer-responses' rules (hold a known length, pass the rest,
// refuse what is over the limit), against a recording sink.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultTargetOptions } from '../../src/config/service-options.ts';
import type { RequestContext } from '../../src/http/context.ts';
import { chainFilters, responseFilters } from '../../src/targets/response-pipeline.ts';
import type { ResponseFilter, ResponseHead, SinkOwner } from '../../src/http/response-sink.ts';
import { statusForError } from '../../src/upstream/errors.ts';
import { Recorder } from '../helpers/recording-sink.ts';


function owner(): SinkOwner & { failures: Error[] } {
  const failures: Error[] = [];
  const ctx = { res: { destroyed: false, once() {} } } as unknown as RequestContext;
  return { ctx, failures, fail: (err) => failures.push(err) };
}

const head = (contentLength: number, contentType = 'text/plain'): ResponseHead => ({
  status: 200,
  headers: ['Content-Type', contentType],
  contentLength,
  contentType,
});

describe('response pipeline', () => {
  test('no filters: responses go straight to the client writer', () => {
    assert.equal(responseFilters(defaultTargetOptions()), null);
  });

  test('filters run in the order of the list: the first sees the upstream response first', () => {
    const tag = (name: string): ResponseFilter => (next) => ({
      head: (h) => next.head({ ...h, headers: [...h.headers, 'X-Seen', name] }),
      body: (c) => next.body(c),
      onDrain: (r) => next.onDrain(r),
      end: (l) => next.end(l),
      discard: () => next.discard(),
    });
    const out = new Recorder();
    const sink = chainFilters([tag('first'), tag('second')])!(out, owner());
    sink.head(head(-1));
    assert.deepEqual(out.events, ['head 200 Content-Type,text/plain,X-Seen,first,X-Seen,second']);
  });

  describe('--buffer-responses', () => {
    const buffering = (o = {}) => responseFilters({ ...defaultTargetOptions(), bufferResponses: true, ...o })!;

    test('a response of known length is held until it ends, then sent whole', () => {
      const out = new Recorder();
      const sink = buffering()(out, owner());
      sink.head(head(6));
      assert.equal(sink.body(Buffer.from('abc')), true);
      sink.body(Buffer.from('def'));
      assert.deepEqual(out.events, []);
      sink.end();
      assert.deepEqual(out.events, ['head 200 Content-Type,text/plain', 'end abcdef']);
    });

    test('unknown length and event streams pass straight through', () => {
      for (const h of [head(-1), head(10, 'text/event-stream')]) {
        const out = new Recorder();
        const sink = buffering()(out, owner());
        sink.head(h);
        sink.body(Buffer.from('x'));
        assert.deepEqual(out.events, [`head 200 ${h.headers.join(',')}`, 'body x']);
      }
    });

    test('over --max-response-body by its Content-Length: the exchange fails with 500 and nothing goes out', () => {
      const out = new Recorder();
      const o = owner();
      buffering({ maxResponseBodyBytes: 5 })(out, o).head(head(6));
      assert.equal(o.failures.length, 1);
      assert.equal(statusForError(o.failures[0]), 500);
      assert.deepEqual(out.events, []);
    });

    test('a failed exchange drops what is held', () => {
      const out = new Recorder();
      const sink = buffering()(out, owner());
      sink.head(head(6));
      sink.body(Buffer.from('abc'));
      sink.discard();
      assert.deepEqual(out.events, ['discard']);
    });
  });
});
