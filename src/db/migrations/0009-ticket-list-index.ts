import type { Kysely } from 'kysely';

/**
 * The inbox query, `?brand_id=…&status=…` newest first, read every ticket of that status in every
 * brand until it had a page of the one asked for (tickets_status_id). This index answers it with a
 * page's worth of rows.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('tickets_brand_status_id').on('tickets').columns(['brand_id', 'status', 'id']).execute();
}
