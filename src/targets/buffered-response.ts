// --buffer-responses: a response with a known length is collected before the
// client sees any of it (over --max-response-body: 500), so the app's worker
// is free as soon as it has answered and the client is fed at its own pace.
// Event streams and responses of unknown length pass through, as in
// kamal-proxy.
import { BODY_TOO_LARGE, SpillBuffer } from '../buffer/spill-buffer.ts';
import type { TargetOptions } from '../config/service-options.ts';
import { ProxyError, RESPONSE_NOT_BUFFERED } from '../upstream/errors.ts';
import type { ResponseFilter, ResponseHead, ResponseSink, SinkOwner } from '../http/response-sink.ts';

export function bufferResponses(o: TargetOptions): ResponseFilter {
  return (next, owner) => new BufferedResponse(next, owner, o);
}

const tooLarge = (): ProxyError => new ProxyError(RESPONSE_NOT_BUFFERED, 'response body too large');
const notBuffered = (err: Error): ProxyError =>
  (err as { code?: unknown }).code === BODY_TOO_LARGE ? tooLarge() : new ProxyError(RESPONSE_NOT_BUFFERED, err.message);

class BufferedResponse implements ResponseSink {
  readonly #next: ResponseSink;
  readonly #owner: SinkOwner;
  readonly #o: TargetOptions;
  #passThrough = false;
  #head: ResponseHead | null = null;
  // Most responses are small: kept in an array and written in one go.
  #small: Buffer[] | null = null;
  #spill: SpillBuffer | null = null;
  #resume: (() => void) | null = null;

  constructor(next: ResponseSink, owner: SinkOwner, o: TargetOptions) {
    this.#next = next;
    this.#owner = owner;
    this.#o = o;
  }

  head(head: ResponseHead): void {
    const o = this.#o;
    if (head.contentLength < 0 || head.contentType.startsWith('text/event-stream')) {
      this.#passThrough = true;
      return this.#next.head(head);
    }
    if (o.maxResponseBodyBytes > 0 && head.contentLength > o.maxResponseBodyBytes) return this.#owner.fail(tooLarge());
    this.#head = head;
    // The length is known, and the upstream client never delivers more.
    if (head.contentLength <= o.maxMemoryBufferBytes) this.#small = [];
    else this.#spill = new SpillBuffer({ maxMemoryBytes: o.maxMemoryBufferBytes, maxBytes: o.maxResponseBodyBytes });
  }

  body(chunk: Buffer): boolean {
    if (this.#passThrough) return this.#next.body(chunk);
    if (this.#small !== null) {
      this.#small.push(chunk);
      return true;
    }
    this.#spill!.write(chunk).then(
      () => this.#resume?.(),
      (err: Error) => this.#owner.fail(notBuffered(err)),
    );
    return false;
  }

  onDrain(resume: () => void): void {
    if (this.#passThrough) this.#next.onDrain(resume);
    else this.#resume = resume;
  }

  end(last?: Buffer): void {
    if (this.#passThrough) return this.#next.end(last);
    if (last !== undefined) this.body(last);
    this.#next.head(this.#head!);
    const small = this.#small;
    if (small !== null) return this.#next.end(small.length === 1 ? small[0]! : Buffer.concat(small));
    void this.#feed(this.#spill!);
  }

  discard(): void {
    if (this.#passThrough) return this.#next.discard();
    this.#small = null;
    if (this.#spill !== null) void this.#spill.dispose();
    this.#next.discard();
  }

  // The upstream is done and its connection free; the client is fed from the
  // buffer at its own pace.
  async #feed(spill: SpillBuffer): Promise<void> {
    const next = this.#next;
    const res = this.#owner.ctx.res!;
    let wake: (() => void) | null = null;
    const resume = (): void => wake?.();
    res.once('close', resume); // a client that leaves never drains
    try {
      for await (const chunk of spill.reader()) {
        if (res.destroyed) return;
        if (!next.body(chunk as Buffer)) {
          await new Promise<void>((r) => {
            wake = r;
            next.onDrain(resume);
          });
          wake = null;
        }
      }
      next.end();
    } catch (err) {
      this.#owner.fail(err as Error);
    } finally {
      void spill.dispose();
    }
  }
}
