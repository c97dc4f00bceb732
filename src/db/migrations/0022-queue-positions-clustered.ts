import { type Kysely, PostgresAdapter, sql } from 'kysely';

/**
 * On SQLite, `queue_positions` becomes a WITHOUT ROWID table: its rows live in the primary key's
 * B-tree. Before, the key `(queue_id, node)` was a separate index beside a rowid table, so each of
 * the tree nodes a queue position sums (about ten at a million tickets) took two seeks, one in the
 * index and one for the row's `waiting`, and each of the ~25 nodes a ticket write adds to was two
 * B-tree updates. Same columns and key, so a process of the previous release reads and writes the
 * table as before (its statements are prepared again on the new schema). PostgreSQL keeps its heap
 * and index: an index-only scan there needs pages the visibility map marks all-visible, which the
 * tree's hottest nodes, updated on every ticket write, never are.
 */
export async function up(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) await rebuildQueuePositions(db, { withoutRowid: true });
}

export async function down(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) await rebuildQueuePositions(db, { withoutRowid: false });
}

/** Copies the table into a new one of the same columns and key, clustered on the key or not, and takes its name. */
async function rebuildQueuePositions(db: Kysely<any>, options: { withoutRowid: boolean }): Promise<void> {
  await db.schema
    .createTable('queue_positions_rebuilt')
    .addColumn('queue_id', 'text', (c) => c.notNull())
    .addColumn('node', 'bigint', (c) => c.notNull())
    .addColumn('waiting', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('queue_positions_pk', ['queue_id', 'node'])
    .$call((b) => (options.withoutRowid ? b.modifyEnd(sql`without rowid`) : b))
    .execute();
  await sql`insert into queue_positions_rebuilt (queue_id, node, waiting) select queue_id, node, waiting from queue_positions`.execute(db);
  await db.schema.dropTable('queue_positions').execute();
  await db.schema.alterTable('queue_positions_rebuilt').renameTo('queue_positions').execute();
}
