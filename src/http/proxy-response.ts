// What the request pipeline writes a response through. Node's ServerResponse
// and Http2ServerResponse fit it as they are; the fast paths' own responses
// (server/http1-response.ts, server/http2-response.ts) implement it. Headers
// go out only as a flat [name, value, ...] list given to writeHead: there is
// no setHeader/getHeader, which the fast paths' responses would not honour.
export interface ProxyResponse {
  readonly statusCode: number;
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
  readonly writableFinished: boolean;
  readonly destroyed: boolean;
  // HTTP/1.1: false closes the connection after this response (an HTTP/2
  // stream never closes its connection).
  shouldKeepAlive?: boolean;
  writeHead(status: number, headers?: string[]): this;
  // false: wait for 'drain' before writing more.
  write(chunk: Buffer | string): boolean;
  end(): this;
  end(chunk: Buffer | string): this;
  // Cuts the response short: the client sees an error, not a short body.
  destroy(): this;
  once(event: 'drain' | 'close', listener: () => void): this;
  on(event: 'close', listener: () => void): this;
}
