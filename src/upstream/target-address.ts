// Target addresses are `host[:port]`, checked with kamal-proxy's pattern so the
// same values are accepted and refused. IPv6 literals are refused there too.
import { DEFAULT_TARGET_PORT } from '../config/defaults.ts';

const TARGET_PATTERN = /^(\w[-_.\w+]+)(?::(\d+))?$/;

export interface TargetAddress {
  host: string;
  port: number;
  address: string; // normalised host:port
}

export class InvalidTargetError extends Error {}

export function parseTargetAddress(text: string): TargetAddress {
  const m = TARGET_PATTERN.exec(text);
  const port = m?.[2] === undefined ? DEFAULT_TARGET_PORT : Number(m[2]);
  if (m === null || port < 1 || port > 65535) {
    // kamal-proxy's wording, odd spacing included: "<target> :invalid host pattern".
    throw new InvalidTargetError(`${text} :invalid host pattern`);
  }
  return { host: m[1]!, port, address: `${m[1]}:${port}` };
}
