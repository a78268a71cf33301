// node:http, loaded as CommonJS. An ES import of it builds a namespace of all
// its exports, which runs the lazy getters of http.WebSocket, CloseEvent and
// MessageEvent and so loads Node's bundled undici (fetch, WebSocket): 12 MiB
// of RSS in a proxy that uses none of it (bench/README.md, "Memory"). Import
// node:http from here in the proxy's own code; `import type` is free.
import { createRequire } from 'node:module';

const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');

export default http;
export const { IncomingMessage, STATUS_CODES } = http;
