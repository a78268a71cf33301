// Cookie-based canary split, bit-for-bit as kamal-proxy decides it: a request
// goes to the rollout targets when its `kamal-rollout` cookie is on the
// allowlist, or its FNV-1a 32-bit hash is at most percentage% of 2^32-1. The
// same cookie values land on the same side as with kamal-proxy.
import { cookieValue } from '../http/cookies.ts';
import type { RolloutState } from '../config/service-options.ts';

export const ROLLOUT_COOKIE = 'kamal-rollout';
const MAX_HASH = 0xffffffff;

export function rolloutState(percentage: number, allowlist: string[]): RolloutState {
  return { percentage, percentageSplitPoint: MAX_HASH * (percentage / 100), allowlist };
}

export function usesRollout(split: RolloutState, cookieHeader: string | undefined): boolean {
  const value = cookieValue(cookieHeader, ROLLOUT_COOKIE);
  if (value === '') return false;
  if (split.allowlist.includes(value)) return true;
  return fnv1a32(value) <= split.percentageSplitPoint;
}

export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}
