// Go's strconv.Quote / QuoteRune (what %q prints), used in pflag's messages
// and kamal-proxy's on-demand TLS denials: Kamal prints our errors
// verbatim, so they must quote exactly as Go does.

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const NAMED_ESCAPES: Readonly<Record<string, string>> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
};

export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) out += escapeChar(ch, '"');
  return `${out}"`;
}

export function goQuoteRune(code: number): string {
  return `'${escapeChar(String.fromCodePoint(code), "'")}'`;
}

// For bytes rather than a string: \xNN for a byte that is not valid UTF-8,
// as Go prints it (a body cut at 256 bytes can end inside a character).
export function goQuoteBytes(b: Buffer): string {
  let out = '"';
  for (let i = 0; i < b.length; ) {
    const [cp, size] = decodeRune(b, i);
    i += size;
    out += cp < 0 ? `\\x${b[i - 1]!.toString(16).padStart(2, '0')}` : escapeChar(String.fromCodePoint(cp), '"');
  }
  return `${out}"`;
}

function escapeChar(ch: string, quote: string): string {
  if (ch === quote || ch === '\\') return `\\${ch}`;
  if (PRINTABLE.test(ch)) return ch;
  const named = NAMED_ESCAPES[ch];
  if (named !== undefined) return named;
  const code = ch.codePointAt(0)!;
  const hex = code.toString(16);
  if (code < 0x20 || code === 0x7f) return `\\x${hex.padStart(2, '0')}`;
  if (code < 0x10000) return `\\u${hex.padStart(4, '0')}`;
  return `\\U${hex.padStart(8, '0')}`;
}

// One UTF-8 sequence at b[i]: [code point, length], or [-1, 1] for a byte
// that does not start a valid one (as Go's utf8.DecodeRune: no overlongs,
// no surrogates, nothing past U+10FFFF).
function decodeRune(b: Buffer, i: number): [number, number] {
  const c0 = b[i]!;
  if (c0 < 0x80) return [c0, 1];
  let n: number;
  let cp: number;
  let min: number;
  if (c0 >= 0xc2 && c0 <= 0xdf) [n, cp, min] = [2, c0 & 0x1f, 0x80];
  else if (c0 >= 0xe0 && c0 <= 0xef) [n, cp, min] = [3, c0 & 0x0f, 0x800];
  else if (c0 >= 0xf0 && c0 <= 0xf4) [n, cp, min] = [4, c0 & 0x07, 0x10000];
  else return [-1, 1];
  if (i + n > b.length) return [-1, 1];
  for (let k = 1; k < n; k++) {
    const c = b[i + k]!;
    if ((c & 0xc0) !== 0x80) return [-1, 1];
    cp = (cp << 6) | (c & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return [-1, 1];
  return [cp, n];
}
