// Trusting a private ACME server's HTTPS certificate (pebble in tests, a
// step-ca behind --tls-acme-directory) and nothing else in the process.
// acme-client sends every request through one shared axios and takes no
// agent, so a request interceptor picks an https.Agent by origin; other
// origins keep Node's default trust.
import type https from 'node:https';
import { nodeHttps } from './lazy-tls.ts';
import type { axios as AcmeAxios } from 'acme-client';

const agents = new Map<string, https.Agent>();

// Trust `caPem` (instead of the public roots) for requests to the origin of
// `directoryUrl`. RFC 8555 servers keep all their URLs on that origin.
export function trustAcmeServerCa(directoryUrl: string, caPem: string): void {
  agents.set(new URL(directoryUrl).origin, new (nodeHttps().Agent)({ ca: caPem, keepAlive: true }));
}

// Called once, by acme-lib.ts, when acme-client is loaded: the interceptor
// looks the agent up per request, so CAs trusted later apply too.
export function installAcmeTrust(acmeAxios: typeof AcmeAxios): void {
  acmeAxios.interceptors.request.use((config) => {
    const agent = config.url ? agents.get(originOf(config.url)) : undefined;
    if (agent) config.httpsAgent = agent;
    return config;
  });
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '';
  }
}
