// Which content coding a client gets, from its Accept-Encoding (RFC 9110
// §12.5.3): the coding it weighs highest among those we make, `*` standing
// for any coding it does not name, q=0 refusing one. None when identity
// outweighs them all, when the header is empty, and when there is no header:
// the RFC lets us pick any coding then, but old clients and scripts that send
// none are the ones that cannot decode.
export type Coding = 'br' | 'zstd' | 'gzip';

// At equal weight (browsers send all three at q=1): zstd, within a few
// percent of brotli's size for a third of its CPU (bench/compression.ts); a
// proxy on a small server spends its CPU on every response. Then brotli
// (Safari has no zstd), then gzip, which every client has.
const PREFERENCE: readonly Coding[] = ['zstd', 'br', 'gzip'];

// Browsers send a handful of distinct headers: each is parsed once.
const MAX_CACHED = 64;
const cache = new Map<string, Coding | null>();

export function chooseCoding(header: string | string[] | undefined): Coding | null {
  if (header === undefined) return null;
  const text = typeof header === 'string' ? header : header.join(',');
  let coding = cache.get(text);
  if (coding === undefined) {
    coding = negotiate(text);
    if (cache.size >= MAX_CACHED) cache.clear();
    cache.set(text, coding);
  }
  return coding;
}

function negotiate(text: string): Coding | null {
  const weights = parseWeights(text);
  const any = weights.get('*');
  let best: Coding | null = null;
  let bestQ = 0;
  for (const coding of PREFERENCE) {
    const q = weights.get(coding) ?? (coding === 'gzip' ? weights.get('x-gzip') : undefined) ?? any ?? 0;
    if (q > bestQ) {
      best = coding;
      bestQ = q;
    }
  }
  if (best === null) return null;
  // Identity not named is acceptable but least preferred; named, it competes
  // on its weight (a tie goes to the coding: smaller is what both want).
  const identity = weights.get('identity');
  return identity !== undefined && identity > bestQ ? null : best;
}

// Whether a response in this content coding ("" or identity: none) may go to
// a client that sent this Accept-Encoding: a stored variant is served only
// to clients that can decode it.
export function acceptsCoding(header: string | string[] | undefined, coding: string): boolean {
  const c = coding === '' ? 'identity' : coding.toLowerCase();
  if (header === undefined) return true; // any coding is acceptable (RFC 9110 §12.5.3)
  const weights = parseWeights(typeof header === 'string' ? header : header.join(','));
  const any = weights.get('*');
  const q = weights.get(c) ?? (c === 'gzip' ? weights.get('x-gzip') : undefined) ?? any;
  if (c === 'identity') return q === undefined || q > 0;
  return q !== undefined && q > 0;
}

// Coding → weight; an element that does not parse is ignored, and a coding
// named twice keeps its lowest weight (a refusal is never undone).
export function parseWeights(text: string): Map<string, number> {
  const weights = new Map<string, number>();
  for (const element of text.split(',')) {
    const semi = element.indexOf(';');
    const name = (semi === -1 ? element : element.slice(0, semi)).trim().toLowerCase();
    if (name === '') continue;
    let q = 1;
    if (semi !== -1) {
      const parsed = qvalue(element.slice(semi + 1));
      if (parsed === null) continue;
      q = parsed;
    }
    const had = weights.get(name);
    weights.set(name, had === undefined ? q : Math.min(had, q));
  }
  return weights;
}

// `q=0.5` among the element's parameters (RFC 9110 §12.4.2: 0 to 1, three
// decimals at most); 1 when there is none, null when it is malformed.
function qvalue(params: string): number | null {
  let q = 1;
  for (const param of params.split(';')) {
    const eq = param.indexOf('=');
    if (eq === -1) {
      if (param.trim() === '') continue;
      return null;
    }
    if (param.slice(0, eq).trim().toLowerCase() !== 'q') continue;
    const value = param.slice(eq + 1).trim();
    if (!/^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(value)) return null;
    q = Number(value);
  }
  return q;
}
