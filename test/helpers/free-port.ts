// Ports for processes that must be told a port up front (a proxy child,
// pebble, an app started by --nap-command).
//
// Asking the kernel for port 0 and closing it is racy here: the other test
// file running beside us binds port 0 all the time (backends, in-process
// proxies), and the kernel hands out the same ephemeral range to it, so a
// port we closed could be taken before our child binds it (seen in CI:
// EADDRINUSE half a second later, while Node was starting). We pick from
// below the ephemeral range instead, which neither bind(0) nor connect()
// ever use, and check it is free right now.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const SPAN = 10_000; // ports below the ephemeral range we choose from
const handedOut = new Set<number>(); // never the same port twice in one process

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > SPAN + 1024) return low;
  } catch {
    // not Linux: fall through to the IANA dynamic range's start
  }
  return 32_768;
}

const high = ephemeralLow(); // exclusive
const low = high - SPAN;

// Free on every address: the proxy listens on "::" unless told a bind address.
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ port, host: '::', exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * SPAN);
    if (handedOut.has(port)) continue;
    if (await isFree(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port between ${low} and ${high}`);
}
