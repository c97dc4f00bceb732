import { createHash, randomBytes } from 'node:crypto';

/** Every id prefix the API hands out; ids are `<prefix>_<26 chars>` and sort by creation time. */
export type IdPrefix = 'tick' | 'brand' | 'msg' | 'att' | 'evt' | 'tok' | 'que' | 'aud' | 'wh' | 'dlv' | 'atm' | 'blob' | 'inb' | 'agt' | 'cus' | 'view';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower-case as the seed shows
let lastTime = 0;
let lastRandom: number[] = [];

function encodeTime(ms: number): string {
  let out = '';
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[ms % 32] + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

/**
 * A ULID body: 48 bits of milliseconds then 80 random bits. Within one millisecond the random part
 * is incremented, so ids made by this process are strictly increasing. Pagination and queue order
 * lean on that.
 */
function ulid(now: number): string {
  if (now <= lastTime) {
    let i = lastRandom.length - 1;
    while (i >= 0 && lastRandom[i] === 31) lastRandom[i--] = 0;
    if (i >= 0) lastRandom[i]!++;
    now = lastTime;
  } else {
    const bytes = randomBytes(16);
    lastRandom = Array.from({ length: 16 }, (_, k) => bytes[k]! & 31);
    lastTime = now;
  }
  return encodeTime(now) + lastRandom.map((d) => ALPHABET[d]).join('');
}

export function newId(prefix: IdPrefix, now: number = Date.now()): string {
  return `${prefix}_${ulid(now)}`;
}

export const idPattern = (prefix: IdPrefix): string => `^${prefix}_[0-9a-hjkmnp-tv-z]{26}$`;

export function isId(prefix: IdPrefix, value: string): boolean {
  return new RegExp(idPattern(prefix)).test(value);
}

/**
 * An id that a caller can compute again: the time part from `ms` (so it sorts where a record made
 * then would), the rest from a hash of `seed`. Imports use it to name what they write after the
 * source's own ids, so a rerun arrives at the same ids instead of making duplicates.
 */
export function stableId(prefix: IdPrefix, ms: number, seed: string): string {
  const hash = createHash('sha256').update(seed).digest();
  let rest = '';
  for (let i = 0; i < 16; i++) rest += ALPHABET[hash[i]! & 31];
  return `${prefix}_${encodeTime(Math.max(0, Math.floor(ms)))}${rest}`;
}
