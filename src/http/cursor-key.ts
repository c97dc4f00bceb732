import { randomBytes } from 'node:crypto';
import type { Db } from '../db/schema.js';
import { type Clock, toTimestamp } from '../shared/clock.js';
import type { SecretBox } from '../shared/secret-box.js';
import * as serverKeys from '../server-keys/store.js';
import { type CursorCodec, createCursorCodec } from './cursor.js';

/** Its own row in server_keys: no other use of a server key can verify, or be verified by, a cursor. */
export const CURSOR_KEY_NAME = 'pagination-cursor-signing';

/**
 * The key that signs pagination cursors: 32 random bytes in `server_keys`, sealed with the
 * deployment's secret box (like webhook secrets), so that reading the database is not enough to
 * forge a cursor. Made on first use by whichever process gets there first (a racing insert is
 * ignored and the winner's key read back), on the database itself, never inside a request's
 * transaction. Deleting the row rotates the key: cursors issued before then become 400s.
 */
export async function loadCursorKey(deps: { db: Db; clock: Clock; secretBox: SecretBox }): Promise<Buffer> {
  const { db, clock, secretBox } = deps;
  let row = await serverKeys.findServerKey(db, CURSOR_KEY_NAME);
  if (!row) {
    await serverKeys.insertServerKeyIfAbsent(db, {
      name: CURSOR_KEY_NAME,
      secret: secretBox.seal(randomBytes(32).toString('base64')),
      created_at: toTimestamp(clock.now()),
    });
    row = await serverKeys.findServerKey(db, CURSOR_KEY_NAME);
  }
  if (!row) throw new Error('the cursor signing key could not be stored');
  let key: Buffer;
  try {
    key = Buffer.from(secretBox.open(row.secret), 'base64');
  } catch {
    throw new Error(
      `server_keys.${CURSOR_KEY_NAME} cannot be opened with this deployment's secret key (NEXUS_SECRET_KEY or <data dir>/secret-key changed?); delete the row to make a new one`,
    );
  }
  if (key.length !== 32) throw new Error(`server_keys.${CURSOR_KEY_NAME} does not hold a 32-byte key`);
  return key;
}

/** The deployment's cursor codec: its key kept in `db`, sealed with the deployment's `secretBox`. */
export function cursorCodecFor(deps: { db: Db; clock: Clock; secretBox: SecretBox }): CursorCodec {
  return createCursorCodec(() => loadCursorKey(deps));
}
