// Go's time.ParseDuration and time.Duration.String, because kamal-proxy's
// duration flags (and the messages they fail with) follow them exactly.
// Go works in integer nanoseconds; we do the arithmetic in BigInt nanoseconds
// to get Go's overflow and truncation behaviour, then hand back milliseconds.

const NS_PER_UNIT: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const MAX_ABS_NS = 1n << 63n; // |math.MinInt64|; positives must stay below it

export function parseGoDuration(text: string): number {
  const invalid = (): Error => new Error(`time: invalid duration ${quoteForTime(text)}`);
  let s = text;
  let negative = false;
  if (s[0] === '-' || s[0] === '+') {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  // Go special-cases a lone zero: the only number allowed without a unit.
  if (s === '0') return 0;
  if (s === '') throw invalid();

  let total = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]!))) throw invalid();

    let i = 0;
    let whole = 0n;
    while (i < s.length && isDigit(s[i]!)) {
      whole = whole * 10n + BigInt(s.charCodeAt(i) - 48);
      if (whole > MAX_ABS_NS) throw invalid();
      i++;
    }
    const sawWhole = i > 0;
    s = s.slice(i);

    // The fraction is kept as an integer plus a float64 scale, as Go does,
    // so fractional hours round the same way.
    let fraction = 0n;
    let scale = 1;
    let sawFraction = false;
    if (s[0] === '.') {
      s = s.slice(1);
      let overflow = false;
      i = 0;
      while (i < s.length && isDigit(s[i]!)) {
        if (!overflow) {
          const next = fraction * 10n + BigInt(s.charCodeAt(i) - 48);
          if (next > MAX_ABS_NS) overflow = true;
          else {
            fraction = next;
            scale *= 10;
          }
        }
        i++;
      }
      sawFraction = i > 0;
      s = s.slice(i);
    }
    if (!sawWhole && !sawFraction) throw invalid();

    i = 0;
    while (i < s.length && s[i] !== '.' && !isDigit(s[i]!)) i++;
    if (i === 0) throw new Error(`time: missing unit in duration ${quoteForTime(text)}`);
    const unitName = s.slice(0, i);
    s = s.slice(i);
    const unit = NS_PER_UNIT[unitName];
    if (unit === undefined) {
      throw new Error(`time: unknown unit ${quoteForTime(unitName)} in duration ${quoteForTime(text)}`);
    }

    if (whole > MAX_ABS_NS / unit) throw invalid();
    let value = whole * unit;
    if (fraction > 0n) {
      value += BigInt(Math.trunc(Number(fraction) * (Number(unit) / scale)));
      if (value > MAX_ABS_NS) throw invalid();
    }
    total += value;
    if (total > MAX_ABS_NS) throw invalid();
  }
  if (!negative && total > MAX_ABS_NS - 1n) throw invalid();
  return (negative ? -Number(total) : Number(total)) / 1e6 || 0; // `|| 0` turns -0 into 0
}

export function formatGoDuration(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError(`not a finite duration: ${ms}`);
  let ns = BigInt(Math.round(ms * 1e6));
  const negative = ns < 0n;
  if (negative) ns = -ns;

  let out: string;
  if (ns < 1_000_000_000n) {
    // Below a second Go switches to the largest sub-second unit that fits.
    if (ns === 0n) return '0s';
    if (ns < 1_000n) out = `${ns}ns`;
    else if (ns < 1_000_000n) out = `${withFraction(ns, 3)}µs`;
    else out = `${withFraction(ns, 6)}ms`;
  } else {
    const seconds = ns / 1_000_000_000n;
    const secondsText = withFraction(ns % 60_000_000_000n, 9);
    const minutes = seconds / 60n;
    if (minutes === 0n) out = `${secondsText}s`;
    else if (minutes < 60n) out = `${minutes}m${secondsText}s`;
    else out = `${minutes / 60n}h${minutes % 60n}m${secondsText}s`;
  }
  return negative ? `-${out}` : out;
}

// value / 10**digits in decimal, trailing zeros (and a bare point) dropped.
function withFraction(value: bigint, digits: number): string {
  const divisor = 10n ** BigInt(digits);
  const whole = value / divisor;
  const fraction = (value % divisor).toString().padStart(digits, '0').replace(/0+$/, '');
  return fraction === '' ? `${whole}` : `${whole}.${fraction}`;
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

// The time package's own quoting, which differs from strconv.Quote: anything
// outside printable ASCII is written as \x escapes of its UTF-8 bytes.
function quoteForTime(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (code < 0x20 || code >= 0x80) {
      for (const byte of Buffer.from(ch, 'utf8')) out += `\\x${byte.toString(16).padStart(2, '0')}`;
    } else {
      out += ch === '"' || ch === '\\' ? `\\${ch}` : ch;
    }
  }
  return out + '"';
}

// Napping's environment, config file and container labels take a Go duration
// (`90s`, `15m`) or, as the original Kamal Napper did, plain seconds (`900`).
// Returns milliseconds; negative values are refused.
export function parseDurationOrSeconds(text: string): number {
  const trimmed = text.trim();
  const ms = /^\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) * 1000 : parseGoDuration(trimmed);
  if (ms < 0) throw new Error(`time: negative duration ${quoteForTime(text)}`);
  return ms;
}
