// node:tls, node:https and node:http2, loaded when first used rather than at
// start: together about 8 MiB of RSS (OpenSSL's TLS state, the HTTP/2 session
// code), which a proxy whose services all run without TLS never needs. The
// HTTPS port is still bound at start; its first connection, or the first
// certificate, loads them (a few ms, once).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const nodeTls = (): typeof import('node:tls') => require('node:tls');
export const nodeHttps = (): typeof import('node:https') => require('node:https');
export const nodeHttp2 = (): typeof import('node:http2') => require('node:http2');
