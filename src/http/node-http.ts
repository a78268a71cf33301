// node:http, loaded as CommonJS. An ES import of it builds a namespace of all
// its exports, which runs the lazy getters of http.WebSocket, CloseEvent and
// MessageEvent and so loads Node's bundled undici (fetch, WebSocket), which
// the proxy never uses: 12 MiB of RSS in a bare process, 2 MiB in the proxy
// (bench/README.md, "Memory"). Import node:http from here in the proxy's own
// code; `import type` is free.
import { createRequire } from 'node:module';

const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');

export default http;
export const { IncomingMessage, STATUS_CODES } = http;
