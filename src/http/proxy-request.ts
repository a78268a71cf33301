// What the request pipeline reads of a client's request. Node's
// IncomingMessage and Http2ServerRequest fit it as they are; the fast paths'
// own requests (server/http1-fast-path.ts, server/http2-fast-path.ts)
// implement it. The body is not part of it: the path that took the request
// knows how the body comes and puts it on the context (RequestBody).
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { ProxyResponse } from './proxy-response.ts';

export interface ProxyRequest {
  readonly method?: string;
  url?: string; // origin-form once the chain has read an absolute-form one
  readonly httpVersion: string;
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
}

// null: no body; a Buffer: the whole body, as long as its Content-Length
// says; a Readable: a body still arriving.
export type RequestBody = Buffer | Readable | null;

// The client's end of the connection, as far as the pipeline reads it.
export interface ClientPeer {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
}

// How the fast paths hand a request to the chain: its body came whole with
// its head, or there is none.
export type FastRequestListener = (req: ProxyRequest, res: ProxyResponse, body: Buffer | null, peer: ClientPeer) => void;
