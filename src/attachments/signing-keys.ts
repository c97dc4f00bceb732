import { randomBytes } from 'node:crypto';
import type { Dialect } from '../db/open.js';
import type { Db, DbOrTx } from '../db/schema.js';
import { withSecureErase } from '../db/secure-erase.js';
import { AppError } from '../http/problem.js';
import { type Clock, toTimestamp } from '../shared/clock.js';
import type { SecretBox } from '../shared/secret-box.js';
import * as serverKeys from '../server-keys/store.js';
import { KID, LEGACY_KID, type SigningKey } from './signing.js';

/** `server_keys` rows: the key new URLs are signed with, and the one before it (still accepted). */
export const CURRENT_KEY = 'attachment-url-signing';
export const PREVIOUS_KEY = 'attachment-url-signing:previous';

/**
 * How long a process keeps the keys it read. After a rotation by another process (the CLI), a
 * server goes on signing with the old key for at most this long; a URL with a key id it does not
 * know makes it read the keys again at once.
 */
export const KEY_CACHE_MS = 60_000;

const PLAIN_HEX_KEY = /^[0-9a-f]{64}$/;

export interface KeyInfo {
  kid: string;
  role: 'current' | 'previous';
  created_at: string;
}

export interface KeyRotation {
  current: KeyInfo;
  /** The key that was current until now, still accepted; null when there was none. */
  previous: KeyInfo | null;
  /** The key no longer accepted: its URLs stop working. Null when there was none. */
  retired: KeyInfo | null;
}

interface LoadedKey extends SigningKey {
  created_at: string;
}

/**
 * The URL-signing keys of a deployment, kept in `server_keys` sealed with the secret box, so the
 * database alone cannot forge a URL. Two keys at most: `current` signs, `current` and `previous`
 * verify; every URL names its key by id. Every process on the database reads the same rows.
 */
export function createSigningKeyRing(deps: {
  db: Db;
  dialect: Dialect;
  clock: Clock;
  box: SecretBox;
  /** The longest a signed URL lives: a rotation is refused while the previous key may still have live URLs. */
  maxUrlLifetimeMs: number;
}) {
  const { db, dialect, clock, box } = deps;
  let cache: { current: LoadedKey | undefined; byKid: Map<string, LoadedKey>; loadedAt: number } | undefined;

  function open(name: string, sealed: string, createdAt: string): LoadedKey {
    // A key from before sealing; `prepare` seals it at start, until then it still verifies.
    if (PLAIN_HEX_KEY.test(sealed)) return { kid: LEGACY_KID, key: Buffer.from(sealed, 'hex'), created_at: createdAt };
    let plain: string;
    try {
      plain = box.open(sealed);
    } catch {
      throw new Error(
        `the URL-signing key ${name} cannot be opened with this secret key: every process sharing a database needs the same NEXUS_SECRET_KEY (or <data dir>/secret-key)`,
      );
    }
    const [kid, hex] = plain.split(':') as [string, string | undefined];
    if (!KID.test(kid) || !hex || !PLAIN_HEX_KEY.test(hex)) throw new Error(`the URL-signing key ${name} is malformed`);
    return { kid, key: Buffer.from(hex, 'hex'), created_at: createdAt };
  }

  async function readRows(dbx: DbOrTx) {
    return serverKeys.listServerKeys(dbx, [CURRENT_KEY, PREVIOUS_KEY]);
  }

  async function load(dbx: DbOrTx): Promise<NonNullable<typeof cache>> {
    const byKid = new Map<string, LoadedKey>();
    let current: LoadedKey | undefined;
    for (const row of await readRows(dbx)) {
      const key = open(row.name, row.secret, row.created_at);
      byKid.set(key.kid, key);
      if (row.name === CURRENT_KEY) current = key;
    }
    return { current, byKid, loadedAt: performance.now() };
  }

  const fresh = () => cache !== undefined && performance.now() - cache.loadedAt < KEY_CACHE_MS;

  function newKey(): { kid: string; secret: string; sealed: string } {
    // Random, so that key ids reveal nothing and two processes never make the same one.
    let kid = '';
    while (kid.length < 8)
      kid += randomBytes(8)
        .toString('base64url')
        .replace(/[^0-9a-z]/g, '');
    kid = kid.slice(0, 8);
    const secret = randomBytes(32).toString('hex');
    return { kid, secret, sealed: box.seal(`${kid}:${secret}`) };
  }

  async function insertCurrent(dbx: DbOrTx): Promise<void> {
    await serverKeys.insertServerKeyIfAbsent(dbx, { name: CURRENT_KEY, secret: newKey().sealed, created_at: toTimestamp(clock.now()) });
  }

  const info = (key: LoadedKey, role: KeyInfo['role']): KeyInfo => ({ kid: key.kid, role, created_at: key.created_at });

  return {
    /**
     * The key new URLs are signed with. Takes the caller's handle: inside a message transaction a
     * query on `db` would wait on itself. Should the key be missing (rows deleted by hand), one is
     * made; it is not cached then, as the insert may belong to a transaction that rolls back.
     */
    async current(dbx: DbOrTx): Promise<SigningKey> {
      if (fresh() && cache!.current) return cache!.current;
      let loaded = await load(dbx);
      if (!loaded.current) {
        await insertCurrent(dbx);
        loaded = await load(dbx);
        if (!loaded.current) throw new Error('the URL-signing key could not be stored');
        return loaded.current;
      }
      cache = loaded;
      return loaded.current;
    },

    /** The key a URL names, current or previous; undefined for an id this deployment does not hold. */
    async find(dbx: DbOrTx, kid: string): Promise<Buffer | undefined> {
      if (fresh() && cache!.byKid.has(kid)) return cache!.byKid.get(kid)!.key;
      // Unknown here: another process may have rotated since the keys were read.
      cache = await load(dbx);
      return cache.byKid.get(kid)?.key;
    },

    /**
     * Run at start, before serving: seals a plain key left by an older version (keeping its URLs
     * valid under key id `0`) and erases the plain bytes from the database files; makes the first
     * key of a new database. Safe to run from several processes at once.
     */
    async prepare(): Promise<{ sealed: boolean; created: boolean }> {
      const rows = await readRows(db);
      const plain = rows.filter((r) => PLAIN_HEX_KEY.test(r.secret));
      if (plain.length) {
        await withSecureErase(db, dialect, 'server_keys', async () => {
          for (const row of plain) {
            // Conditional: of two processes upgrading at once, the second changes nothing.
            await serverKeys.replaceServerKeySecret(db, row.name, { from: row.secret, to: box.seal(`${LEGACY_KID}:${row.secret}`) });
          }
        });
      }
      const created = !rows.some((r) => r.name === CURRENT_KEY);
      if (created) await insertCurrent(db);
      cache = await load(db);
      return { sealed: plain.length > 0, created };
    },

    /**
     * Makes a new current key; the current one becomes previous (its URLs keep working until they
     * expire) and the previous one is dropped. Refused (409) while URLs signed with the previous
     * key may still be live, unless `force`: after a leak, `force` twice leaves neither old key.
     */
    async rotate(options: { force?: boolean } = {}): Promise<KeyRotation> {
      const result = await db.transaction().execute(async (trx) => {
        const loaded = await load(trx);
        const rows = await readRows(trx);
        const currentRow = rows.find((r) => r.name === CURRENT_KEY);
        const previous = rows.find((r) => r.name === PREVIOUS_KEY);
        if (currentRow && !options.force) {
          // Processes may sign with the old current key for up to KEY_CACHE_MS after it was replaced.
          const safeAt = new Date(Date.parse(currentRow.created_at) + deps.maxUrlLifetimeMs + KEY_CACHE_MS);
          if (safeAt.getTime() > clock.now().getTime()) {
            throw new AppError(
              'conflict',
              `The current URL-signing key is from ${currentRow.created_at}; URLs signed with the previous key may be live until ${toTimestamp(safeAt)}. Rotate after that, or force it (those URLs then stop working).`,
            );
          }
        }
        if (previous) await serverKeys.deleteServerKey(trx, PREVIOUS_KEY);
        if (currentRow) {
          const moved = await serverKeys.renameServerKey(trx, { from: CURRENT_KEY, to: PREVIOUS_KEY, secret: currentRow.secret });
          if (!moved) throw new AppError('conflict', 'Another rotation of the URL-signing key ran at the same time; try again');
        }
        await insertCurrent(trx);
        const after = await load(trx);
        return {
          current: info(after.current!, 'current'),
          previous: loaded.current ? info(loaded.current, 'previous') : null,
          retired: previous ? info(open(PREVIOUS_KEY, previous.secret, previous.created_at), 'previous') : null,
        };
      });
      cache = undefined;
      return result;
    },

    /** The keys held, current first; never their secrets. */
    async list(): Promise<KeyInfo[]> {
      const loaded = await load(db);
      const out: KeyInfo[] = [];
      if (loaded.current) out.push(info(loaded.current, 'current'));
      for (const key of loaded.byKid.values()) if (key !== loaded.current) out.push(info(key, 'previous'));
      return out;
    },
  };
}

export type SigningKeyRing = ReturnType<typeof createSigningKeyRing>;
