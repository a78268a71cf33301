// A request's `Range: bytes=…` (RFC 9110 §14.1.2, §14.2) against a
// representation of known size. Only a single range is served: a server
// may always ignore Range, and the whole file in one 200 beats a
// multipart/byteranges body that few clients need.

export type RangeAnswer =
  | { kind: 'whole' } // no usable range: answer 200 with everything
  | { kind: 'part'; start: number; end: number } // 206, end inclusive
  | { kind: 'unsatisfiable' }; // 416

const WHOLE: RangeAnswer = { kind: 'whole' };
const UNSATISFIABLE: RangeAnswer = { kind: 'unsatisfiable' };

export function byteRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined) return WHOLE;
  const eq = header.indexOf('=');
  // Another unit, or no unit: ignored, as §14.2 asks.
  if (eq === -1 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return WHOLE;
  const specs = header.slice(eq + 1).split(',');
  let only: RangeAnswer | null = null;
  let count = 0;
  for (const raw of specs) {
    const spec = raw.trim();
    if (spec === '') continue; // empty list elements are allowed (§5.6.1)
    const part = oneRange(spec, size);
    if (part === null) return WHOLE; // a malformed set is ignored whole
    count++;
    only = part;
  }
  if (count !== 1) return WHOLE; // none, or several: the whole file
  return only!;
}

const DIGITS = /^\d+$/;

// null: not a range spec at all.
function oneRange(spec: string, size: number): RangeAnswer | null {
  const dash = spec.indexOf('-');
  if (dash === -1) return null;
  const first = spec.slice(0, dash).trim();
  const last = spec.slice(dash + 1).trim();
  if (first === '') {
    // The last N bytes.
    if (!DIGITS.test(last)) return null;
    const n = Number(last);
    if (n === 0 || size === 0) return UNSATISFIABLE;
    return { kind: 'part', start: Math.max(0, size - n), end: size - 1 };
  }
  if (!DIGITS.test(first) || (last !== '' && !DIGITS.test(last))) return null;
  const start = Number(first);
  const end = last === '' ? Infinity : Number(last);
  if (end < start) return null; // invalid, so the header is ignored (§14.1.1)
  if (start >= size) return UNSATISFIABLE;
  return { kind: 'part', start, end: Math.min(end, size - 1) };
}
