// A busy port at start, said in one line with what to do about it, instead of
// a stack trace. The demo's ports come from PORT and HTTPS_PORT.

export interface DemoPorts {
  http: number;
  https: number;
}

// The line to print when `err` is a port of ours already in use, else null.
export function portInUseMessage(err: unknown, ports: DemoPorts): string | null {
  const e = err as { code?: unknown; port?: unknown; message?: unknown };
  if (e?.code !== 'EADDRINUSE') return null;
  // Node's error has the port; a reworded one names it (":8080").
  const named = typeof e.port === 'number' ? e.port : Number(/:(\d+)\b/.exec(String(e.message))?.[1]);
  if (named === ports.https && named !== ports.http) {
    return `port ${named} is in use: set HTTPS_PORT=..., e.g. HTTPS_PORT=${nextPort(named, [ports.http])} npm start`;
  }
  const http = nextPort(ports.http, [ports.https]);
  return `port ${ports.http} is in use: set PORT=... (and HTTPS_PORT=...), e.g. PORT=${http} HTTPS_PORT=${nextPort(ports.https, [http])} npm start`;
}

// The example's ports: the next ones up, never one the other port has.
function nextPort(port: number, taken: number[]): number {
  let next = port + 1;
  while (taken.includes(next)) next++;
  return next;
}
