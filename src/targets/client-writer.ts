// The last sink of every response: writes it to the client's response. The
// head goes out with the first body byte (or the end): nothing leaves before
// it anyway, and until then a response that turns out malformed can still
// become a 502 rather than a cut connection.
import type { RequestContext } from '../http/context.ts';
import type { ProxyResponse } from '../http/proxy-response.ts';
import type { ResponseHead, ResponseSink } from '../http/response-sink.ts';

export class ClientWriter implements ResponseSink {
  readonly #ctx: RequestContext;
  readonly #res: ProxyResponse;
  #head: ResponseHead | null = null;

  constructor(ctx: RequestContext, res: ProxyResponse) {
    this.#ctx = ctx;
    this.#res = res;
  }

  head(head: ResponseHead): void {
    this.#head = head;
  }

  body(chunk: Buffer): boolean {
    this.#ctx.respBytes += chunk.length;
    if (this.#head !== null) this.#writeHead();
    return this.#res.write(chunk);
  }

  onDrain(resume: () => void): void {
    this.#res.once('drain', resume);
  }

  end(last?: Buffer): void {
    if (this.#head !== null) this.#writeHead();
    if (last === undefined) this.#res.end();
    else {
      this.#ctx.respBytes += last.length;
      this.#res.end(last);
    }
  }

  // A response already started is the handler's to cut; one whose head is
  // still held is replaced by an error page.
  discard(): void {
    if (this.#head === null) return;
    this.#head = null;
    this.#ctx.respHeaders = null;
  }

  #writeHead(): void {
    const head = this.#head!;
    this.#head = null;
    this.#res.writeHead(head.status, head.headers);
  }
}
