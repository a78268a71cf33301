// Cache-Control (RFC 9111 §5.2): directive names are case-insensitive, a
// value may be a token or a quoted string, and a header may come as several
// field lines. Unknown directives are kept (and ignored by the rules).
export type Directives = ReadonlyMap<string, string>; // name (lowercase) → value, "" when none

const EMPTY: Directives = new Map();

export function parseCacheControl(value: string | readonly string[] | undefined): Directives {
  if (value === undefined) return EMPTY;
  const text = typeof value === 'string' ? value : value.join(',');
  if (text === '') return EMPTY;
  const out = new Map<string, string>();
  let i = 0;
  while (i < text.length) {
    let end = i;
    while (end < text.length && text[end] !== ',' && text[end] !== '=') end++;
    const name = text.slice(i, end).trim().toLowerCase();
    let arg = '';
    i = end;
    if (text[i] === '=') {
      i++;
      while (text[i] === ' ' || text[i] === '\t') i++;
      if (text[i] === '"') {
        // A quoted string: may hold commas (no-cache="Set-Cookie, Foo").
        i++;
        while (i < text.length && text[i] !== '"') {
          if (text[i] === '\\') i++;
          arg += text[i] ?? '';
          i++;
        }
        i++;
        while (i < text.length && text[i] !== ',') i++;
      } else {
        const start = i;
        while (i < text.length && text[i] !== ',') i++;
        arg = text.slice(start, i).trim();
      }
    }
    i++; // the comma
    // The first occurrence wins: a duplicate is invalid (§4.2.1), and the
    // first is what most caches use.
    if (name !== '' && !out.has(name)) out.set(name, arg);
  }
  return out;
}

// A delta-seconds value (§1.2.2), or -1 when absent or not a number. Values
// past 2^31 count as 2^31, as the RFC asks.
export function deltaSeconds(d: Directives, name: string): number {
  const v = d.get(name);
  if (v === undefined || !/^\d+$/.test(v)) return -1;
  return Math.min(Number(v), 2_147_483_648);
}
