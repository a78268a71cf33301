// X-Request-ID for requests that come without one: a random (version 4) UUID,
// as kamal-proxy makes with Go's uuid.NewString().
//
// Not crypto.randomUUID(), which builds each id from a dozen pieces of
// garbage (bench/README.md, "Request ids"): one read of random bytes per 256
// ids, each id formatted into a scratch buffer and read out as one string.
import { randomFill } from '../util/random.ts';

const IDS_PER_FILL = 256;
const random = Buffer.alloc(16 * IDS_PER_FILL);
let next = IDS_PER_FILL; // exhausted: the first call fills
const out = Buffer.alloc(36);
const HEX = Buffer.from('0123456789abcdef');
// Where each of the 16 bytes goes in "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".
const AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
out[8] = out[13] = out[18] = out[23] = 0x2d; // '-'

export function newRequestId(): string {
  if (next === IDS_PER_FILL) {
    randomFill(random);
    next = 0;
  }
  const base = 16 * next++;
  for (let i = 0; i < 16; i++) {
    let b = random[base + i]!;
    if (i === 6) b = (b & 0x0f) | 0x40; // version 4
    else if (i === 8) b = (b & 0x3f) | 0x80; // RFC 4122 variant
    const at = AT[i]!;
    out[at] = HEX[b >> 4]!;
    out[at + 1] = HEX[b & 0x0f]!;
  }
  return out.toString('latin1', 0, 36);
}
