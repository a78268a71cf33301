// node:tls, node:https and node:http2, loaded when first used rather than at
// start: a proxy whose services all run without TLS never needs them. The
// HTTPS port is still bound at start; its first connection, or the first
// certificate, loads them.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const nodeTls = (): typeof import('node:tls') => require('node:tls');
export const nodeHttps = (): typeof import('node:https') => require('node:https');
export const nodeHttp2 = (): typeof import('node:http2') => require('node:http2');
