// An upstream response on its way to the client passes through the
// service's response filters (targets/response-pipeline.ts), each a ResponseSink
// wrapping the next, down to the client writer (targets/client-writer.ts). A filter
// may change the head, hold the body, or refuse the response.
import type { RequestContext } from './context.ts';

export interface ResponseHead {
  status: number;
  headers: string[]; // flat [name, value, ...] as the client will get them
  contentLength: number; // -1: unknown (chunked, or until close)
  contentType: string;
}

export interface ResponseSink {
  head(head: ResponseHead): void;
  // false: wait for onDrain's callback before sending more (never refused).
  body(chunk: Buffer): boolean;
  onDrain(resume: () => void): void;
  // The response is complete; `last` is its final piece, if any.
  end(last?: Buffer): void;
  // The exchange failed: drop what is held.
  discard(): void;
}

// What a filter may ask of its exchange: the request, and to end the
// exchange with an error (its status from upstream/errors.ts).
export interface SinkOwner {
  readonly ctx: RequestContext;
  fail(err: Error): void;
}

export type ResponseFilter = (next: ResponseSink, owner: SinkOwner) => ResponseSink;
