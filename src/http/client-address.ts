// A client's address as kamal-proxy (Go) reports it: Node names IPv4 clients
// on a dual-stack socket `::ffff:a.b.c.d`, Go `a.b.c.d`, which is what apps
// expect in X-Forwarded-For and the request log shows. Real IPv6 stays as is.
const MAPPED_PREFIX = '::ffff:';
const LAST_PREFIX_COLON = MAPPED_PREFIX.length - 1;

export function clientAddress(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return '';
  // Read once per request, so a prefix check first; the rest tells the
  // dotted `::ffff:a.b.c.d` Node writes for a mapped address from real IPv6
  // addresses that share the prefix (`::ffff:abcd`, `::ffff:0:a.b.c.d`).
  if (!remoteAddress.startsWith(MAPPED_PREFIX)) return remoteAddress;
  if (remoteAddress.lastIndexOf(':') !== LAST_PREFIX_COLON || remoteAddress.indexOf('.') === -1) return remoteAddress;
  return remoteAddress.slice(MAPPED_PREFIX.length);
}
