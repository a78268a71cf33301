// node:http, loaded as CommonJS: an ES import builds a namespace of all its
// exports, whose lazy getters (http.WebSocket...) load Node's bundled undici,
// which the proxy never uses. Import node:http from here; `import type` is free.
import { createRequire } from 'node:module';

const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');

export default http;
export const { IncomingMessage, STATUS_CODES } = http;
