import { type Kysely, sql } from 'kysely';

/**
 * Ticket lists in creation or update order, and incremental sync (docs/sync.md).
 *
 * `change_seq` numbers every write of a ticket (create, update, message, wake-up) in commit
 * order, from the `ticket_change_seq` sequence row, which a write takes under its lock (the
 * SQLite writer, or the row lock on PostgreSQL) and holds until it commits. Paging by
 * `(updated_at, change_seq, id)` is then exact while others write: a ticket changed during a walk
 * gets a key above every key already read, so it is seen again later and nothing unchanged is
 * skipped or repeated (updated_at alone, to the second, would tie). Existing tickets are numbered
 * in (updated_at, id) order. The indexes serve each order with and without one brand.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('tickets')
    .addColumn('change_seq', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`update tickets set change_seq = numbered.n
            from (select id, row_number() over (order by updated_at, id) as n from tickets) as numbered
            where tickets.id = numbered.id`.execute(db);
  const { n } = await db
    .selectFrom('tickets')
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirstOrThrow();
  await db
    .insertInto('sequences')
    .values({ name: 'ticket_change_seq', value: Number(n) })
    .execute();

  await db.schema.createIndex('tickets_updated_order').on('tickets').columns(['updated_at', 'change_seq', 'id']).execute();
  await db.schema.createIndex('tickets_brand_updated_order').on('tickets').columns(['brand_id', 'updated_at', 'change_seq', 'id']).execute();
  await db.schema.createIndex('tickets_created_order').on('tickets').columns(['created_at', 'id']).execute();
  await db.schema.createIndex('tickets_brand_created_order').on('tickets').columns(['brand_id', 'created_at', 'id']).execute();
}
