import { type Kysely, sql } from 'kysely';
import { nodesToUpdate, positionKey } from '../../queues/position-index.js';

/**
 * Exact queue positions without counting the queue (src/queues/position-index.ts): every ticket
 * gets an arrival number, `queue_seq`, and `queue_positions` holds a Fenwick tree per queue over
 * the tickets waiting in it. Existing tickets are numbered in id order (their creation order) and
 * the trees built from the tickets waiting now. The queue's listing reads a partial index that
 * holds only waiting tickets, in queue order.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('tickets')
    .addColumn('queue_seq', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`update tickets set queue_seq = numbered.n
            from (select id, row_number() over (order by id) as n from tickets) as numbered
            where tickets.id = numbered.id`.execute(db);

  await db.schema
    .createTable('sequences')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('value', 'integer', (c) => c.notNull())
    .execute();
  const { n } = await db
    .selectFrom('tickets')
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirstOrThrow();
  await db
    .insertInto('sequences')
    .values({ name: 'ticket_queue_seq', value: Number(n) })
    .execute();

  await db.schema
    .createTable('queue_positions')
    .addColumn('queue_id', 'text', (c) => c.notNull())
    .addColumn('node', 'bigint', (c) => c.notNull())
    .addColumn('waiting', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('queue_positions_pk', ['queue_id', 'node'])
    .execute();

  const counts = new Map<string, Map<number, number>>();
  const waiting = await db
    .selectFrom('tickets')
    .select(['queue_id', 'priority_rank', 'queue_seq'])
    .where('status', '=', 'open')
    .where('assigned_to', 'is', null)
    .execute();
  for (const t of waiting) {
    const nodes = counts.get(t.queue_id) ?? new Map<number, number>();
    counts.set(t.queue_id, nodes);
    for (const node of nodesToUpdate(positionKey(Number(t.priority_rank), Number(t.queue_seq)))) nodes.set(node, (nodes.get(node) ?? 0) + 1);
  }
  const rows = [...counts].flatMap(([queue_id, nodes]) => [...nodes].map(([node, n]) => ({ queue_id, node, waiting: n })));
  for (let i = 0; i < rows.length; i += 500)
    await db
      .insertInto('queue_positions')
      .values(rows.slice(i, i + 500))
      .execute();

  await db.schema.dropIndex('tickets_queue_waiting').execute();
  await db.schema
    .createIndex('tickets_queue_order')
    .on('tickets')
    .columns(['queue_id', 'priority_rank', 'queue_seq'])
    .where(sql.ref('status'), '=', 'open')
    .where(sql.ref('assigned_to'), 'is', null)
    .execute();
}
