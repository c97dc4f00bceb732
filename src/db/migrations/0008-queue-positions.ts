import { type Kysely, sql } from 'kysely';
import { fillQueueTrees } from './queue-trees.js';

/**
 * The nodes of this migration's tree (over every key, not buckets of them) that count the ticket
 * with `key`: kept here as it was, since src/queues/position-index.ts now describes the bucketed
 * tree of migration 0025. BigInt because keys pass 2^32.
 */
function nodesToUpdate(key: number): number[] {
  const nodes: number[] = [];
  for (let i = BigInt(key); i <= 4n << 32n; i += i & -i) nodes.push(Number(i));
  return nodes;
}

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

  await fillQueueTrees(db, 'queue_positions', nodesToUpdate);

  await db.schema.dropIndex('tickets_queue_waiting').execute();
  await db.schema
    .createIndex('tickets_queue_order')
    .on('tickets')
    .columns(['queue_id', 'priority_rank', 'queue_seq'])
    .where(sql.ref('status'), '=', 'open')
    .where(sql.ref('assigned_to'), 'is', null)
    .execute();
}
