import { type Kysely, PostgresAdapter, sql } from 'kysely';
import { BUCKET_BITS, SEQ_BITS, TREE_HEIGHT, nodesToUpdate } from '../../queues/position-index.js';
import { fillQueueTrees } from './queue-trees.js';

/**
 * Queue positions from a tree over buckets of keys (src/queues/position-index.ts):
 * `queue_position_buckets (queue_id, node, waiting)`, a Fenwick tree per queue over buckets of
 * 2^10 keys, built here from the tickets waiting now. Inside a bucket the partial index
 * `tickets_queue_order` counts. The tree over every key, `queue_positions`, took about ten random
 * pages of a table of millions of rows per change of a ticket's waiting state at a million
 * tickets; this one is a thousand times smaller and stays cached.
 *
 * Triggers on `tickets` keep the new tree, not the code that writes tickets: every writer moves
 * it in the transaction of its write, a process of the previous release during a rolling upgrade
 * included, so the new release's positions are exact from the migration on. The previous
 * release's processes still read and write `queue_positions`, which this release no longer
 * writes: while both run, positions they show can be off by the tickets the new release moved,
 * and running the previous release again after this one wrote tickets needs its tree rebuilt
 * (restore a backup). Additive in shape, not in meaning, for that old tree (docs/operations.md,
 * upgrades, point 5); `queue_positions` is dropped in a later release.
 *
 * One trigger run per ticket row written, and only for writes of the five columns that decide a
 * position; it adds ±1 to the nodes of the old and the new bucket's paths in one statement, in
 * (queue, node) order, so that two PostgreSQL writers take the nodes' row locks in one order.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // Triggers first, then the backfill, in one write transaction: no write can fall between them
  // (counted twice, or not at all).
  if (db.isTransaction) await build(db);
  else await db.transaction().execute(build);
}

async function build(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema
    .createTable('queue_position_buckets')
    .addColumn('queue_id', 'text', (c) => c.notNull())
    .addColumn('node', 'bigint', (c) => c.notNull())
    .addColumn('waiting', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('queue_position_buckets_pk', ['queue_id', 'node'])
    // Rows in the key's B-tree: one seek a node (see 0022).
    .$call((b) => (postgres ? b : b.modifyEnd(sql`without rowid`)))
    .execute();
  if (postgres) await createPostgresTrigger(db);
  else await createSqliteTriggers(db);

  await fillQueueTrees(db, 'queue_position_buckets', nodesToUpdate);
}

/**
 * The statement both dialects' triggers run, for the rows they name `old` and `new` (either may be
 * left out): each waiting row's bucket path, as `nodesToUpdate` walks it. For the bucket number
 * b + 1 (b = key >> 10, the buckets before it), the path has, at each level j where bit j of b is
 * 0, the node ((b >> j) | 1) << j: the one node of width 2^j whose range holds the bucket.
 */
function addToPaths(rows: { name: 'old' | 'new'; delta: 1 | -1; when: string }[], dialect: { levels: string; bigint: (e: string) => string }): string {
  const paths = rows.map(
    ({ name, delta, when }) => `select ${name}.queue_id as queue_id, ((k.b >> l.j) | 1) << l.j as node, ${delta} as delta
        from (select ((${dialect.bigint(`${name}.priority_rank`)} << ${SEQ_BITS}) | ${name}.queue_seq) >> ${BUCKET_BITS} as b) as k, ${dialect.levels}
        where ${when} and ((k.b >> l.j) & 1) = 0`,
  );
  // No alias for the target table: SQLite checks every trigger again on a later ALTER TABLE … DROP
  // or RENAME COLUMN of any table, and that check does not resolve an upsert's alias ("no such
  // column: p.waiting"), which would fail those migrations.
  return `insert into queue_position_buckets (queue_id, node, waiting)
      select d.queue_id, d.node, sum(d.delta) from (${paths.join(' union all ')}) as d
      where true group by d.queue_id, d.node having sum(d.delta) <> 0 order by d.queue_id, d.node
      on conflict (queue_id, node) do update set waiting = queue_position_buckets.waiting + excluded.waiting;`;
}

const levelList = Array.from({ length: TREE_HEIGHT + 1 }, (_, j) => `(${j})`).join(', ');
const SQLITE = { levels: `(select column1 as j from (values ${levelList})) as l`, bigint: (e: string) => e };
const waitingIn = (name: 'old' | 'new') => `${name}.status = 'open' and ${name}.assigned_to is null`;
/** The columns a position depends on: an update of none of them runs no trigger. */
const POSITION_COLUMNS = 'status, assigned_to, priority_rank, queue_seq, queue_id';

async function createSqliteTriggers(db: Kysely<any>): Promise<void> {
  await sql`create trigger tickets_queue_buckets_inserted after insert on tickets when ${sql.raw(waitingIn('new'))}
    begin ${sql.raw(addToPaths([{ name: 'new', delta: 1, when: 'true' }], SQLITE))} end`.execute(db);
  await sql`create trigger tickets_queue_buckets_updated after update of ${sql.raw(POSITION_COLUMNS)} on tickets
    when ((${sql.raw(waitingIn('old'))}) or (${sql.raw(waitingIn('new'))}))
      and (old.status is not new.status or old.assigned_to is not new.assigned_to or old.priority_rank is not new.priority_rank
        or old.queue_seq is not new.queue_seq or old.queue_id is not new.queue_id)
    begin ${sql.raw(
      addToPaths(
        [
          { name: 'old', delta: -1, when: `(${waitingIn('old')})` },
          { name: 'new', delta: 1, when: `(${waitingIn('new')})` },
        ],
        SQLITE,
      ),
    )} end`.execute(db);
  await sql`create trigger tickets_queue_buckets_deleted after delete on tickets when ${sql.raw(waitingIn('old'))}
    begin ${sql.raw(addToPaths([{ name: 'old', delta: -1, when: 'true' }], SQLITE))} end`.execute(db);
}

async function createPostgresTrigger(db: Kysely<any>): Promise<void> {
  const postgres = { levels: `generate_series(0, ${TREE_HEIGHT}) as l(j)`, bigint: (e: string) => `${e}::bigint` };
  await sql`create function queue_position_buckets_changed() returns trigger language plpgsql as $$
    declare
      was_waiting boolean := tg_op <> 'INSERT' and ${sql.raw(waitingIn('old'))};
      is_waiting boolean := tg_op <> 'DELETE' and ${sql.raw(waitingIn('new'))};
    begin
      if not (was_waiting or is_waiting) then return null; end if;
      if tg_op = 'UPDATE' and was_waiting = is_waiting and old.priority_rank = new.priority_rank
         and old.queue_seq = new.queue_seq and old.queue_id = new.queue_id then return null; end if;
      ${sql.raw(
        addToPaths(
          [
            { name: 'old', delta: -1, when: 'was_waiting' },
            { name: 'new', delta: 1, when: 'is_waiting' },
          ],
          postgres,
        ),
      )}
      return null;
    end $$`.execute(db);
  await sql`create trigger tickets_queue_buckets after insert or update of ${sql.raw(POSITION_COLUMNS)} or delete on tickets
    for each row execute function queue_position_buckets_changed()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`drop trigger if exists tickets_queue_buckets on tickets`.execute(db);
    await sql`drop function if exists queue_position_buckets_changed()`.execute(db);
  } else {
    for (const name of ['tickets_queue_buckets_inserted', 'tickets_queue_buckets_updated', 'tickets_queue_buckets_deleted'])
      await sql`drop trigger if exists ${sql.id(name)}`.execute(db);
  }
  await db.schema.dropTable('queue_position_buckets').execute();
}
