// Go's strconv.Quote / QuoteRune, used in pflag's messages: Kamal prints our
// flag errors verbatim, so they must quote exactly as Go does.

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
