import type { Kysely } from 'kysely';

/**
 * Drops `tickets_created_at (created_at)`: `tickets_created_order (created_at, id)` (migration 0012)
 * starts with the same column, so it answers every query the older index did, and each ticket
 * insert maintained one index more for nothing. Not a contraction: no query names the index, and a
 * process of the previous release plans its queries on the other one alike.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('tickets_created_at').ifExists().execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('tickets_created_at').ifNotExists().on('tickets').columns(['created_at']).execute();
}
