import { type Insertable, sql } from 'kysely';
import type { DbOrTx, QueueRow, QueueTable, TicketRow } from '../db/schema.js';
import { prepareQuery, slotList } from '../db/prepared.js';
import { placeCacheOf } from './place-cache.js';
import { BUCKET_BITS, MAX_SUM_NODES, SEQ_BITS, type WaitingState, isWaiting, nodesToSum } from './position-index.js';

export async function insertQueue(db: DbOrTx, row: Insertable<QueueTable>): Promise<void> {
  await db.insertInto('queues').values(row).execute();
}

const queueById = prepareQuery((db, p: { id: string }) => db.selectFrom('queues').selectAll().where('id', '=', p.id));

export async function findQueue(db: DbOrTx, id: string): Promise<QueueRow | undefined> {
  return queueById.first(db, { id });
}

const queuesOfBrand = prepareQuery((db, p: { brandId: string }) =>
  db.selectFrom('queues').selectAll().where('brand_id', '=', p.brandId).orderBy('is_default').orderBy('sort_order').orderBy('id'),
);

/** The brand's queues in routing order: routing queues by sort_order, the default queue last. */
export async function listQueues(db: DbOrTx, brandIds: string[] | null): Promise<QueueRow[]> {
  // One brand (routing a new ticket): the statement built once.
  if (brandIds?.length === 1) return queuesOfBrand.all(db, { brandId: brandIds[0]! });
  let q = db.selectFrom('queues').selectAll().orderBy('brand_id').orderBy('is_default').orderBy('sort_order').orderBy('id');
  if (brandIds) q = brandIds.length ? q.where('brand_id', 'in', brandIds) : q.where('id', '=', '');
  return q.execute();
}

export async function updateQueue(db: DbOrTx, id: string, set: Partial<Insertable<QueueTable>>): Promise<void> {
  await db.updateTable('queues').set(set).where('id', '=', id).execute();
}

/** The highest `sort_order` among the brand's routing queues; undefined when it has none. */
export async function maxRoutingOrder(db: DbOrTx, brandId: string): Promise<number | undefined> {
  const row = await db
    .selectFrom('queues')
    .select((eb) => eb.fn.max('sort_order').as('m'))
    .where('brand_id', '=', brandId)
    .where('is_default', '=', 0)
    .executeTakeFirst();
  return row?.m === null || row?.m === undefined ? undefined : Number(row.m);
}

/** The default queue of each of these brands, in one query whatever their number. */
export async function listDefaultQueues(db: DbOrTx, brandIds: string[]): Promise<Pick<QueueRow, 'id' | 'brand_id'>[]> {
  if (brandIds.length === 0) return [];
  return db.selectFrom('queues').select(['id', 'brand_id']).where('brand_id', 'in', brandIds).where('is_default', '=', 1).execute();
}

/**
 * How many tickets wait in the queue ahead of (rank, seq) within the seq's own bucket of
 * 2^BUCKET_BITS keys: a range of the partial index `tickets_queue_order`, whose condition is
 * written here as literals so that SQLite's planner can use it. Values or column references; the
 * one count of `findQueueWithWaitingBefore` and `waitingBeforeTicket`.
 */
const waitingInBucketBefore = (queueId: unknown, rank: unknown, seq: unknown) =>
  sql<number | string>`(select count(*) from tickets w
    where w.queue_id = ${queueId} and w.status = 'open' and w.assigned_to is null and w.priority_rank = ${rank}
      and w.queue_seq >= ((cast(${seq} as bigint) >> ${sql.lit(BUCKET_BITS)}) << ${sql.lit(BUCKET_BITS)}) and w.queue_seq < ${seq})`;

/**
 * The queue and how many tickets wait in it ahead of a key, in one statement: the tree nodes the
 * buckets before the key's need are one primary-key read each (as many as the bucket number has
 * bits set, at most 24), and the tickets of the key's own bucket ahead of it are a range of the
 * partial index `tickets_queue_order` (under 2^10 keys). One statement per number of nodes: SQLite
 * builds a temporary index of an `IN` list's values, so slots padded to the most cost a third more
 * than the few a key needs (measured on the tree over every key: 55 against 40 µs).
 */
const queueWithWaitingBefore = Array.from({ length: MAX_SUM_NODES + 1 }, (_, count) =>
  prepareQuery((db, p: { queueId: string; nodes: number[]; rank: number; seq: number }) =>
    db
      .selectFrom('queues')
      .selectAll('queues')
      .select((eb) =>
        eb
          .selectFrom('queue_position_buckets')
          .select((sub) => sub.fn.sum<number | string | null>('waiting').as('n'))
          .where('queue_id', '=', p.queueId)
          .where('node', 'in', slotList(p.nodes, Math.max(1, count)))
          .as('waiting_in_buckets_before'),
      )
      .select(waitingInBucketBefore(p.queueId, p.rank, p.seq).as('waiting_in_bucket_before'))
      .where('id', '=', p.queueId),
  ),
);

/** The queue, and how many tickets wait in it ahead of the key (0 for none). */
export async function findQueueWithWaitingBefore(db: DbOrTx, queueId: string, key: number): Promise<{ queue: QueueRow; waitingBefore: number } | undefined> {
  const nodes = nodesToSum(key);
  const seq = key % 2 ** SEQ_BITS;
  const rank = (key - seq) / 2 ** SEQ_BITS;
  // No bucket before the key's: node 0, which no tree has (nodes count from 1), fills the one slot.
  const row = await queueWithWaitingBefore[nodes.length]!.first(db, {
    queueId,
    nodes: nodes.length ? nodes : [0],
    rank,
    seq,
  });
  if (!row) return undefined;
  const { waiting_in_buckets_before, waiting_in_bucket_before, ...queue } = row;
  return { queue, waitingBefore: Number(waiting_in_buckets_before ?? 0) + Number(waiting_in_bucket_before) };
}

/**
 * The count of `findQueueWithWaitingBefore` for the ticket row `t` itself, in SQL: a recursive
 * query walks the nodes `nodesToSum(waitingKey(t))` would list (the buckets before the ticket's:
 * its key shifted right by `BUCKET_BITS`; each step clears the lowest set bit) and each node is
 * one primary-key read of `queue_position_buckets`, a correlated subquery so that PostgreSQL too
 * seeks the nodes rather than joining the queue's whole tree; then the tickets of its own bucket
 * ahead of it, from the partial index. Null when the ticket does not wait (`isWaiting`), and when
 * the caller keeps the place read at the queue's current version (`keptQueueId`, `keptVersion`).
 */
export const waitingBeforeTicket = (kept: { keptQueueId: string; keptVersion: number }) =>
  sql<number | string | null>`case when t.status = 'open' and t.assigned_to is null
      and not (t.queue_id = ${kept.keptQueueId} and coalesce(q.waiting_version, -1) = ${kept.keptVersion}) then coalesce((
    with recursive n(i) as (
      select ((cast(t.priority_rank as bigint) << ${sql.lit(SEQ_BITS)}) | t.queue_seq) >> ${sql.lit(BUCKET_BITS)}
      union all select i - (i & -i) from n where i > 0)
    select sum((select p.waiting from queue_position_buckets p where p.queue_id = t.queue_id and p.node = n.i)) from n where n.i > 0
  ), 0) + ${waitingInBucketBefore(sql.ref('t.queue_id'), sql.ref('t.priority_rank'), sql.ref('t.queue_seq'))} end`;

const ticketWithPlace = prepareQuery((db, p: { id: string; keptQueueId: string; keptVersion: number }) =>
  db
    .selectFrom('tickets as t')
    .leftJoin('queues as q', 'q.id', 't.queue_id')
    .selectAll('t')
    .select(['q.name as queue_name', 'q.waiting_version as queue_waiting_version', waitingBeforeTicket(p).as('queue_waiting_before')])
    .where('t.id', '=', p.id),
);

/**
 * A ticket's row with its queue's name and, when it waits, how many tickets wait ahead of it: what
 * retrieving a ticket reads on every request, in one statement. On SQLite every statement outside
 * a transaction is a read transaction of its own, whose locks cost as much as a primary-key read
 * (measured at 100,000 tickets: 32 µs for the row and the queue place as two statements, 19 µs as
 * one). The tree walk, the larger part of the statement, is skipped when this process kept the
 * ticket's place at the queue version the statement reads (place-cache.ts). The queue name is null
 * if the ticket's queue row is missing.
 */
export async function findTicketWithPlace(
  db: DbOrTx,
  ticketId: string,
): Promise<{ ticket: TicketRow; queueName: string | null; waitingBefore: number | null } | undefined> {
  const row = await ticketWithPlace.first(db, { id: ticketId, ...keptPlaceOf(db, ticketId) });
  if (!row) return undefined;
  const { queue_name, queue_waiting_version, queue_waiting_before, ...ticket } = row;
  return { ticket, ...placeOf(db, ticketId, row) };
}

/** The slots of `waitingBeforeTicket` for the ticket: the place this process kept for it, if any. */
export function keptPlaceOf(db: DbOrTx, ticketId: string): { keptQueueId: string; keptVersion: number } {
  const kept = placeCacheOf(db)?.get(ticketId);
  return { keptQueueId: kept?.queueId ?? '', keptVersion: kept?.version ?? -1 };
}

/**
 * The queue name and place from a row that selected `q.name as queue_name`, `q.waiting_version as
 * queue_waiting_version` and `waitingBeforeTicket(keptPlaceOf(…)) as queue_waiting_before`: the kept
 * place when the statement skipped the walk, else the walked one, which is then kept.
 */
export function placeOf(
  db: DbOrTx,
  ticketId: string,
  row: Pick<WaitingState, 'queue_id' | 'status' | 'assigned_to'> & {
    queue_name: string | null;
    queue_waiting_version: number | string | null;
    queue_waiting_before: number | string | null;
  },
): { queueName: string | null; waitingBefore: number | null } {
  const { queue_name: queueName } = row;
  if (!isWaiting(row)) return { queueName, waitingBefore: null };
  const places = placeCacheOf(db);
  const kept = places?.get(ticketId);
  const version = row.queue_waiting_version === null ? -1 : Number(row.queue_waiting_version);
  // The statement's own test: the kept place holds when queue and version are the ones it was read at.
  if (kept && kept.queueId === row.queue_id && kept.version === version) return { queueName, waitingBefore: kept.waitingBefore };
  const waitingBefore = Number(row.queue_waiting_before ?? 0);
  if (row.queue_waiting_version !== null) places?.set(ticketId, { queueId: row.queue_id, version, waitingBefore });
  return { queueName, waitingBefore };
}

/** How many tickets wait in the queue ahead of the key. */
export async function countWaitingBefore(db: DbOrTx, queueId: string, key: number): Promise<number> {
  return (await findQueueWithWaitingBefore(db, queueId, key))?.waitingBefore ?? 0;
}

/** The tickets waiting in a queue, in queue order, from the partial index that holds only them. */
export async function listWaitingTickets(db: DbOrTx, queueId: string, page: { after?: [number, number] | undefined; limit: number }): Promise<TicketRow[]> {
  let q = db.selectFrom('tickets').selectAll().where('queue_id', '=', queueId).where('status', '=', 'open').where('assigned_to', 'is', null);
  if (page.after) {
    const [rank, seq] = page.after;
    // A row-value comparison: one range on the index, where an OR of the two cases is not.
    q = q.where((eb) => eb(eb.refTuple('priority_rank', 'queue_seq'), '>', eb.tuple(rank, seq)));
  }
  return q.orderBy('priority_rank').orderBy('queue_seq').limit(page.limit).execute();
}
