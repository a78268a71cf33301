// Go's strconv.Quote (what %q prints) for bytes rather than a string: the
// same escapes as cli/go-quote.ts, plus \xNN for bytes that are not valid
// UTF-8, as Go prints them. kamal-proxy quotes a denial's body this way, and
// a body cut at 256 bytes can end inside a character.
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const NAMED_ESCAPES: Readonly<Record<number, string>> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r' };

export function goQuoteBytes(b: Buffer): string {
  let out = '"';
  for (let i = 0; i < b.length; ) {
    const [cp, size] = decodeRune(b, i);
    i += size;
    if (cp < 0) out += `\\x${b[i - 1]!.toString(16).padStart(2, '0')}`;
    else out += escapeRune(cp);
  }
  return `${out}"`;
}

function escapeRune(cp: number): string {
  if (cp === 0x22) return '\\"';
  if (cp === 0x5c) return '\\\\';
  const ch = String.fromCodePoint(cp);
  if (PRINTABLE.test(ch)) return ch;
  const named = NAMED_ESCAPES[cp];
  if (named !== undefined) return named;
  const hex = cp.toString(16);
  if (cp < 0x20 || cp === 0x7f) return `\\x${hex.padStart(2, '0')}`;
  if (cp < 0x10000) return `\\u${hex.padStart(4, '0')}`;
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
