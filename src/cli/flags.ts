// A command-line flag parser that behaves like spf13/pflag v1.0.6 (what
// kamal-proxy's cobra uses), down to its error wording, because Kamal drives
// us with the same argv it gives kamal-proxy and prints our errors verbatim.
// Value parsing follows the Go functions pflag calls: strconv.ParseBool,
// strconv.ParseInt(s, 0, 64), time.ParseDuration and encoding/csv.
import { formatGoDuration, parseGoDuration } from '../util/go-duration.ts';
import { parseGoBool } from '../util/go-bool.ts';
import { readCsvRecord, writeCsvRecord } from './csv.ts';
import { goQuote, goQuoteRune } from '../util/go-quote.ts';

export type FlagType = 'bool' | 'string' | 'int' | 'int64' | 'duration' | 'stringSlice';
export type FlagValue = boolean | string | number | string[]; // duration => ms; int/int64 => number

export interface FlagSpec {
  name: string;
  type: FlagType;
  default: FlagValue;
  usage: string;
  shorthand?: string;
}

export interface ParsedFlags {
  values: Record<string, FlagValue>; // every spec'd flag, default when not given
  given: Set<string>; // flags that appeared on the command line (pflag's Changed)
  args: string[]; // positional arguments in order
}

export class FlagError extends Error {}

export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[]): ParsedFlags {
  const byName = new Map<string, FlagSpec>();
  const byShorthand = new Map<string, FlagSpec>();
  const values: Record<string, FlagValue> = {};
  for (const spec of specs) {
    if (byName.has(spec.name)) throw new Error(`flag redefined: ${spec.name}`);
    byName.set(spec.name, spec);
    if (spec.shorthand !== undefined) {
      if (!/^[\x00-\x7f]$/.test(spec.shorthand)) throw new Error(`${JSON.stringify(spec.shorthand)} shorthand is not one ASCII character`);
      if (byShorthand.has(spec.shorthand)) throw new Error(`shorthand ${spec.shorthand} redefined`);
      byShorthand.set(spec.shorthand, spec);
    }
    values[spec.name] = Array.isArray(spec.default) ? [...spec.default] : spec.default;
  }

  const given = new Set<string>();
  const args: string[] = [];
  const set = (spec: FlagSpec, text: string): void => {
    try {
      values[spec.name] = convert(spec, text, values[spec.name]!, given.has(spec.name));
    } catch (error) {
      const label = spec.shorthand === undefined ? `--${spec.name}` : `-${spec.shorthand}, --${spec.name}`;
      throw new FlagError(`invalid argument ${goQuote(text)} for ${goQuote(label)} flag: ${(error as Error).message}`);
    }
    given.add(spec.name);
  };

  let i = 0;
  const next = (): string | undefined => (i < argv.length ? argv[i++] : undefined);
  for (let arg = next(); arg !== undefined; arg = next()) {
    if (arg.length < 2 || arg[0] !== '-') {
      args.push(arg); // includes "" and a lone "-"
    } else if (arg === '--') {
      args.push(...argv.slice(i));
      break;
    } else if (arg[1] === '-') {
      parseLong(arg, byName, next, set);
    } else {
      parseShorthands(arg, byShorthand, next, set);
    }
  }
  return { values, given, args };
}

type Setter = (spec: FlagSpec, text: string) => void;
type NextArg = () => string | undefined;

function parseLong(arg: string, byName: Map<string, FlagSpec>, next: NextArg, set: Setter): void {
  const body = arg.slice(2);
  if (body[0] === '-' || body[0] === '=') throw new FlagError(`bad flag syntax: ${arg}`);
  const eq = body.indexOf('=');
  const name = eq < 0 ? body : body.slice(0, eq);
  const spec = byName.get(name);
  if (spec === undefined) throw new FlagError(`unknown flag: --${name}`);
  if (eq >= 0) return set(spec, body.slice(eq + 1));
  // A bool never takes the following word: `--tls false` leaves `false` positional.
  if (spec.type === 'bool') return set(spec, 'true');
  const value = next(); // taken even if it looks like a flag, as pflag does
  if (value === undefined) throw new FlagError(`flag needs an argument: ${arg}`);
  set(spec, value);
}

// `-abc`: a run of shorthand letters; only the last may take a value, which
// is either the rest of the word (`-xvalue`, `-x=value`) or the next word.
function parseShorthands(arg: string, byShorthand: Map<string, FlagSpec>, next: NextArg, set: Setter): void {
  let rest = arg.slice(1);
  while (rest !== '') {
    const letter = rest[0]!;
    const spec = byShorthand.get(letter);
    if (spec === undefined) {
      throw new FlagError(`unknown shorthand flag: ${goQuoteRune(firstByte(rest))} in -${rest}`);
    }
    if (rest.length > 2 && rest[1] === '=') {
      set(spec, rest.slice(2));
      return;
    }
    if (spec.type === 'bool') {
      set(spec, 'true');
      rest = rest.slice(1);
      continue;
    }
    if (rest.length > 1) {
      set(spec, rest.slice(1));
      return;
    }
    const value = next();
    if (value === undefined) throw new FlagError(`flag needs an argument: ${goQuoteRune(letter.charCodeAt(0))} in -${rest}`);
    set(spec, value);
    return;
  }
}

// pflag reports a non-ASCII letter by its first UTF-8 byte, shown as a rune.
function firstByte(s: string): number {
  const code = s.charCodeAt(0);
  return code < 0x80 ? code : Buffer.from(s, 'utf8')[0]!;
}

function convert(spec: FlagSpec, text: string, current: FlagValue, seen: boolean): FlagValue {
  switch (spec.type) {
    case 'bool':
      return parseBoolFlag(text);
    case 'string':
      return text;
    case 'int':
    case 'int64':
      return parseGoInt(text);
    case 'duration':
      return parseGoDuration(text);
    case 'stringSlice': {
      // The first occurrence replaces the default; later ones append.
      const record = text === '' ? [] : readCsvRecord(text);
      return seen ? [...(current as string[]), ...record] : record;
    }
  }
}

// strconv.ParseBool, with its error
function parseBoolFlag(text: string): boolean {
  const value = parseGoBool(text);
  if (value === undefined) throw new Error(`strconv.ParseBool: parsing ${goQuote(text)}: invalid syntax`);
  return value;
}

const MAX_UINT64 = (1n << 64n) - 1n;
const MIN_INT64_MAGNITUDE = 1n << 63n;

// strconv.ParseInt(text, 0, 64): optional sign, then a 0b/0o/0x prefix or a
// leading 0 for octal, and Go-literal underscores. Results past 2^53 lose
// precision as JS numbers; no flag of ours gets near that.
function parseGoInt(text: string): number {
  const syntax = (): Error => new Error(`strconv.ParseInt: parsing ${goQuote(text)}: invalid syntax`);
  const range = (): Error => new Error(`strconv.ParseInt: parsing ${goQuote(text)}: value out of range`);
  let body = text;
  let negative = false;
  if (body[0] === '+' || body[0] === '-') {
    negative = body[0] === '-';
    body = body.slice(1);
  }
  if (body === '') throw syntax();

  let base = 10;
  let digits = body;
  if (body[0] === '0') {
    const prefix = body.length >= 3 ? body.charCodeAt(1) | 0x20 : 0;
    base = prefix === 0x62 ? 2 : prefix === 0x6f ? 8 : prefix === 0x78 ? 16 : 8;
    digits = body.slice(prefix === 0x62 || prefix === 0x6f || prefix === 0x78 ? 2 : 1);
  }

  const bigBase = BigInt(base);
  const cutoff = MAX_UINT64 / bigBase + 1n;
  let n = 0n;
  let underscores = false;
  for (let i = 0; i < digits.length; i++) {
    const code = digits.charCodeAt(i);
    const lower = code | 0x20;
    let digit: number;
    if (code === 0x5f) {
      underscores = true;
      continue;
    } else if (code >= 0x30 && code <= 0x39) digit = code - 0x30;
    else if (lower >= 0x61 && lower <= 0x7a) digit = lower - 0x61 + 10;
    else throw syntax();
    if (digit >= base) throw syntax();
    // Go stops at the first overflow, before looking at later characters.
    if (n >= cutoff) throw range();
    n = n * bigBase + BigInt(digit);
    if (n > MAX_UINT64) throw range();
  }
  if (underscores && !underscoresOk(body)) throw syntax();
  if (negative ? n > MIN_INT64_MAGNITUDE : n >= MIN_INT64_MAGNITUDE) throw range();
  return negative ? -Number(n) || 0 : Number(n);
}

// Underscores must sit between digits, or between a base prefix and a digit.
function underscoresOk(s: string): boolean {
  let saw = '^'; // ^ start, 0 digit or prefix, _ underscore, ! anything else
  let i = 0;
  const prefix = s.length >= 2 && s[0] === '0' ? s.charCodeAt(1) | 0x20 : 0;
  const hex = prefix === 0x78;
  if (prefix === 0x62 || prefix === 0x6f || hex) {
    i = 2;
    saw = '0';
  }
  for (; i < s.length; i++) {
    const c = s[i]!;
    const lower = c.toLowerCase();
    if ((c >= '0' && c <= '9') || (hex && lower >= 'a' && lower <= 'f')) saw = '0';
    else if (c === '_') {
      if (saw !== '0') return false;
      saw = '_';
    } else if (saw === '_') return false;
    else saw = '!';
  }
  return saw !== '_';
}

// ---- usage text ----

// pflag's FlagUsages(): flags sorted by name, the usage column aligned three
// spaces past the longest "-x, --name type", and non-zero defaults appended.
// Returns just the lines (each ending in "\n"); the caller prints "Flags:".
export function formatFlagUsages(specs: readonly FlagSpec[]): string {
  const sorted = [...specs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const rows = sorted.map((spec) => {
    let left = spec.shorthand === undefined ? `      --${spec.name}` : `  -${spec.shorthand}, --${spec.name}`;
    const { varname, usage } = unquoteUsage(spec);
    if (varname !== '') left += ` ${varname}`;
    let right = usage;
    const shown = defaultText(spec);
    if (shown !== undefined) right += ` (default ${spec.type === 'string' ? goQuote(shown) : shown})`;
    return { left, right };
  });
  const width = Math.max(0, ...rows.map((row) => row.left.length));
  const indent = `\n${' '.repeat(width + 3)}`;
  return rows.map(({ left, right }) => `${left.padEnd(width)}   ${right.replaceAll('\n', indent)}\n`).join('');
}

// A back-quoted word in the usage names the value ("a `dir` to serve");
// otherwise the type does, and bools show none.
function unquoteUsage(spec: FlagSpec): { varname: string; usage: string } {
  const match = /`([^`]*)`/.exec(spec.usage);
  if (match !== null) {
    return { varname: match[1]!, usage: spec.usage.replace(match[0], match[1]!) };
  }
  const names: Record<FlagType, string> = {
    bool: '',
    string: 'string',
    int: 'int',
    int64: 'int',
    duration: 'duration',
    stringSlice: 'strings',
  };
  return { varname: names[spec.type], usage: spec.usage };
}

// The default as pflag prints it, or undefined when it is the zero value.
function defaultText(spec: FlagSpec): string | undefined {
  const value = spec.default;
  let text: string;
  let zero: string;
  switch (spec.type) {
    case 'bool':
      [text, zero] = [String(value), 'false'];
      break;
    case 'string':
      [text, zero] = [String(value), ''];
      break;
    case 'int':
    case 'int64':
      [text, zero] = [String(value), '0'];
      break;
    case 'duration':
      [text, zero] = [formatGoDuration(value as number), '0s'];
      break;
    case 'stringSlice':
      [text, zero] = [`[${writeCsvRecord(value as string[])}]`, '[]'];
      break;
  }
  return text === zero ? undefined : text;
}
