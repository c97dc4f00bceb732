import { type Kysely, sql } from 'kysely';

/**
 * Views (issue 15): saved ticket filters of a brand or of one agent, and `ticket_counts`, the number
 * of tickets per (brand, status, assignee) that every ticket write keeps exact in its own
 * transaction (src/tickets/count-store.ts), so the built-in views' counts are a sum over a few counter rows
 * instead of a count over the tickets. `assigned_to` is '' for an unassigned ticket: a primary key
 * column cannot be null. The counters are backfilled from the tickets that exist, in one
 * grouped statement the database runs without the migration holding the rows.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('views')
    .addColumn('id', 'text', (c) => c.primaryKey())
    // A brand's view (shared by every token of the brand) or an agent's own: exactly one is set.
    .addColumn('brand_id', 'text')
    .addColumn('agent_id', 'text')
    .addColumn('name', 'text', (c) => c.notNull())
    // JSON: the ticket list's query parameters (GET /v1/tickets) without sort, limit and after.
    .addColumn('filters', 'text', (c) => c.notNull())
    .addColumn('sort', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('views_brand_id').on('views').columns(['brand_id', 'id']).execute();
  await db.schema.createIndex('views_agent_id').on('views').columns(['agent_id', 'id']).execute();

  await db.schema
    .createTable('ticket_counts')
    .addColumn('brand_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('assigned_to', 'text', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('ticket_counts_pk', ['brand_id', 'status', 'assigned_to'])
    .execute();
  await sql`insert into ticket_counts (brand_id, status, assigned_to, count)
            select brand_id, status, coalesce(assigned_to, ''), count(*) from tickets
            group by brand_id, status, coalesce(assigned_to, '')`.execute(db);
}
