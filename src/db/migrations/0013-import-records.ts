import type { Kysely } from 'kysely';

/**
 * What `nexus import` has already written: one row per source record (a Zendesk or Freshdesk
 * ticket, a line of our own export), committed in the same transaction as the ticket it became.
 * A rerun skips what is here, so an import killed midway completes and one run twice adds nothing.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('import_records')
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('external_id', 'text', (c) => c.notNull())
    .addColumn('ticket_id', 'text', (c) => c.notNull())
    .addColumn('imported_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('import_records_pk', ['source', 'external_id'])
    .execute();
}
