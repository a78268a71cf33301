// A ResponseSink that writes down what it is told, in order, for tests of
// response filters.
import type { ResponseHead, ResponseSink } from '../../src/http/response-sink.ts';

export class Recorder implements ResponseSink {
  readonly events: string[] = [];
  head(h: ResponseHead): void {
    this.events.push(`head ${h.status} ${h.headers.join(',')}`);
  }
  body(chunk: Buffer): boolean {
    this.events.push(`body ${chunk}`);
    return true;
  }
  onDrain(): void {}
  end(last?: Buffer): void {
    this.events.push(last === undefined ? 'end' : `end ${last}`);
  }
  discard(): void {
    this.events.push('discard');
  }
}
