import type { Insertable, Selectable } from 'kysely';
import type { DbOrTx, IdempotencyKeyTable } from '../db/schema.js';

export type IdempotencyKeyRow = Selectable<IdempotencyKeyTable>;

/** The kept answer of a finished request, as idempotency_keys stores it. */
export interface KeptResponse {
  response_status: number;
  /** JSON object of the replayed headers. */
  response_headers: string;
  /** Sealed with the deployment's secret box. */
  response_body: string;
}

export async function findIdempotencyKey(db: DbOrTx, tokenId: string, key: string): Promise<IdempotencyKeyRow | undefined> {
  return db.selectFrom('idempotency_keys').selectAll().where('token_id', '=', tokenId).where('key', '=', key).executeTakeFirst();
}

/** Fails on the primary key when a concurrent request with the same token and key inserted first. */
export async function insertIdempotencyKey(db: DbOrTx, row: Insertable<IdempotencyKeyTable>): Promise<void> {
  await db.insertInto('idempotency_keys').values(row).execute();
}

export async function completeIdempotencyKey(db: DbOrTx, tokenId: string, key: string, response: KeptResponse): Promise<void> {
  await db
    .updateTable('idempotency_keys')
    .set({ state: 'done', ...response })
    .where('token_id', '=', tokenId)
    .where('key', '=', key)
    .execute();
}

export async function deleteIdempotencyKey(db: DbOrTx, tokenId: string, key: string): Promise<void> {
  await db.deleteFrom('idempotency_keys').where('token_id', '=', tokenId).where('key', '=', key).execute();
}

/** Drops the keys created before `before` (an RFC 3339 instant). */
export async function deleteIdempotencyKeysBefore(db: DbOrTx, before: string): Promise<void> {
  await db.deleteFrom('idempotency_keys').where('created_at', '<', before).execute();
}
