import type { Selectable } from 'kysely';
import type { DbOrTx, ServerKeyTable } from '../db/schema.js';

/*
 * `server_keys`: the deployment's own keys (pagination cursors, attachment URLs), one row per use,
 * each sealed with the secret box by its owner. Every write is conditional, because every process
 * on the database may make or upgrade a key at start: the first one wins, the others change nothing.
 */

export type ServerKeyRow = Selectable<ServerKeyTable>;

export async function findServerKey(db: DbOrTx, name: string): Promise<ServerKeyRow | undefined> {
  return db.selectFrom('server_keys').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function listServerKeys(db: DbOrTx, names: string[]): Promise<ServerKeyRow[]> {
  if (names.length === 0) return [];
  return db.selectFrom('server_keys').selectAll().where('name', 'in', names).execute();
}

/** Stores a key unless one of that name exists: a racing process's key is kept, not replaced. */
export async function insertServerKeyIfAbsent(db: DbOrTx, row: ServerKeyRow): Promise<void> {
  await db
    .insertInto('server_keys')
    .values(row)
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
}

/** Replaces a key's stored secret, only if it still holds `from`; returns whether it did. */
export async function replaceServerKeySecret(db: DbOrTx, name: string, change: { from: string; to: string }): Promise<boolean> {
  const result = await db.updateTable('server_keys').set({ secret: change.to }).where('name', '=', name).where('secret', '=', change.from).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Gives the key named `from` the name `to`, only if it still holds `secret`; returns whether it did. */
export async function renameServerKey(db: DbOrTx, change: { from: string; to: string; secret: string }): Promise<boolean> {
  const result = await db
    .updateTable('server_keys')
    .set({ name: change.to })
    .where('name', '=', change.from)
    .where('secret', '=', change.secret)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function deleteServerKey(db: DbOrTx, name: string): Promise<void> {
  await db.deleteFrom('server_keys').where('name', '=', name).execute();
}
