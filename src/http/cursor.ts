import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import { type IdPrefix, isId } from '../shared/ids.js';
import { AppError } from './problem.js';

/**
 * Pagination cursors are opaque to clients: `<base64url JSON>.<base64url HMAC-SHA256>`. The JSON
 * names the list the cursor belongs to, a fingerprint of its filters and the position (the last id
 * seen, plus a sort key or an offset where the order needs one); the MAC, keyed by a server key
 * (see cursor-key.ts), covers all of it. A cursor that was altered, cut short, made up, or issued by
 * another deployment is a 400 `invalid_cursor`, as is one from another list or for other filters;
 * each position value is range-checked as well, so not even a bug in signing could let a client
 * choose an offset or sort key.
 */
interface CursorBody {
  v: 2;
  k: string;
  f: string;
  p: (string | number)[];
}

/** A check of one position value; the type it proves is what `decode` returns in that place. */
export type PositionCheck<T extends string | number> = (value: unknown) => value is T;

export const cursorId =
  (prefix: IdPrefix): PositionCheck<string> =>
  (value): value is string =>
    typeof value === 'string' && isId(prefix, value);

export const cursorInteger =
  (min: number, max: number): PositionCheck<number> =>
  (value): value is number =>
    typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max;

/** A stored instant, exactly as the store writes them (`toTimestamp`). */
export const cursorTimestamp: PositionCheck<string> = (value): value is string =>
  typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(value);

/** The position values that `checks` prove, in order. */
export type Checked<T extends readonly PositionCheck<string | number>[]> = { -readonly [K in keyof T]: T[K] extends PositionCheck<infer U> ? U : never };

/** The longest cursor the API accepts (the `after` schema says the same). */
export const CURSOR_MAX_LENGTH = 2048;
const MAC_LENGTH = 43; // 32 bytes in base64url
const CURSOR = new RegExp(`^([A-Za-z0-9_-]{1,${CURSOR_MAX_LENGTH - MAC_LENGTH - 1}})\\.([A-Za-z0-9_-]{${MAC_LENGTH}})$`);

export function filterFingerprint(filters: Record<string, unknown>): string {
  const stable = Object.keys(filters)
    .filter((k) => filters[k] !== undefined && filters[k] !== null)
    .sort()
    .map((k) => [k, filters[k]]);
  // One-shot: a Hash object costs more to build than the few bytes cost to hash.
  return hash('sha256', JSON.stringify(stable), 'base64url').slice(0, 12);
}

const macOf = (key: Buffer, payload: string): string => createHmac('sha256', key).update(`nexus-cursor\n${payload}`).digest('base64url');

/** Cursors whose MACs a codec keeps (see `createCursorCodec`). */
const KEPT_MACS = 1024;

export interface CursorCodec {
  /** A signed cursor for `position` in the list `kind` under `filters`. */
  encode(kind: string, filters: Record<string, unknown>, position: (string | number)[]): Promise<string>;
  /**
   * The position in a cursor this server issued for the list `kind` under `filters`, each value
   * passing its check; anything else throws a 400 `invalid_cursor` problem.
   */
  decode<const T extends readonly PositionCheck<string | number>[]>(
    kind: string,
    filters: Record<string, unknown>,
    cursor: string,
    checks: T,
  ): Promise<Checked<T>>;
}

/**
 * The codec of one deployment. `loadKey` is called on first use (and again after a failure); every
 * process on the same database must get the same key, or a cursor would only work on the process
 * that issued it.
 */
export function createCursorCodec(loadKey: () => Promise<Buffer>): CursorCodec {
  let key: Promise<Buffer> | undefined;
  const keyOnce = (): Promise<Buffer> => {
    key ??= loadKey().catch((err: unknown) => {
      key = undefined;
      throw err;
    });
    return key;
  };
  const invalid = (why: string) => new AppError('invalid_cursor', `The cursor ${why}; use a next_cursor value from this list`);
  // The MACs of the cursors issued last, by payload: a list polled for its first page issues the
  // same cursor each time, and building an HMAC was ~8 % of a list request's CPU (docs/benchmarks.md).
  // Only issued payloads are kept, so cursors a client makes up cannot push them out; the key of a
  // codec never changes once loaded.
  const macs = new Map<string, string>();
  const issuedMac = (key: Buffer, payload: string): string => {
    let mac = macs.get(payload);
    if (mac === undefined) {
      mac = macOf(key, payload);
      if (macs.size >= KEPT_MACS) macs.delete(macs.keys().next().value!);
      macs.set(payload, mac);
    }
    return mac;
  };

  return {
    async encode(kind, filters, position) {
      const body: CursorBody = { v: 2, k: kind, f: filterFingerprint(filters), p: position };
      const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
      const cursor = `${payload}.${issuedMac(await keyOnce(), payload)}`;
      if (cursor.length > CURSOR_MAX_LENGTH) throw new Error(`a ${kind} cursor came out longer than ${CURSOR_MAX_LENGTH} characters`);
      return cursor;
    },

    async decode(kind, filters, cursor, checks) {
      const match = CURSOR.exec(cursor);
      if (!match) throw invalid('is malformed');
      const [, payload, mac] = match as unknown as [string, string, string];
      // Compared as text: decoding first would accept the other spellings of the last base64 character.
      const key = await keyOnce();
      const expected = Buffer.from(macs.get(payload) ?? macOf(key, payload));
      const given = Buffer.from(mac);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid('was not issued by this server or was altered');
      let body: Partial<CursorBody>;
      try {
        body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<CursorBody>;
      } catch {
        throw invalid('is malformed');
      }
      if (!body || typeof body !== 'object' || body.v !== 2 || !Array.isArray(body.p)) throw invalid('is malformed');
      if (body.k !== kind) throw invalid('belongs to another list');
      if (body.f !== filterFingerprint(filters)) throw invalid('was issued for other filters');
      const p = body.p;
      if (p.length !== checks.length || !checks.every((check, i) => check(p[i]))) throw invalid('is malformed');
      return p as Checked<typeof checks>;
    },
  };
}
