import { type Insertable, sql } from 'kysely';
import type { DbOrTx, QueueRow, QueueTable, TicketRow } from '../db/schema.js';
import { preparedForRows, prepareQuery, slotList } from '../db/prepared.js';
import { placeCacheOf } from './place-cache.js';
import { MAX_SUM_NODES, SEQ_BITS, type WaitingState, isWaiting, nodesToSum, nodesToUpdate, waitingKey } from './position-index.js';

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
 * Adds the deltas to the trees' nodes in one statement, in (queue, node) order: every writer
 * takes the node rows' locks in that one order, so two moves in the same tree cannot deadlock on
 * PostgreSQL by taking them in opposite orders (a -1 pass then a +1 pass would).
 */
async function addToTrees(db: DbOrTx, changes: { queueId: string; key: number; delta: 1 | -1 }[]): Promise<void> {
  const deltas = new Map<string, { queue_id: string; node: number; waiting: number }>();
  for (const { queueId, key, delta } of changes) {
    for (const node of nodesToUpdate(key)) {
      const id = `${queueId}\0${node}`;
      const row = deltas.get(id);
      if (row) row.waiting += delta;
      else deltas.set(id, { queue_id: queueId, node, waiting: delta });
    }
  }
  const rows = [...deltas.values()]
    .filter((r) => r.waiting !== 0)
    .sort((a, b) => (a.queue_id < b.queue_id ? -1 : a.queue_id > b.queue_id ? 1 : a.node - b.node));
  await addToNodes(db, rows);
}

// Prepared per number of nodes (at most 35 per ticket that moves).
const addToNodes = preparedForRows(['queue_id', 'node', 'waiting'], (db, rows: { queue_id: string; node: number; waiting: number }[]) =>
  db
    .insertInto('queue_positions')
    .values(rows)
    .onConflict((oc) => oc.columns(['queue_id', 'node']).doUpdateSet((eb) => ({ waiting: eb('queue_positions.waiting', '+', eb.ref('excluded.waiting')) }))),
);

/**
 * Keeps the queue trees in step with one ticket write: `before` is the row as it was (undefined
 * for a new ticket), `after` as it is now. Call it in the transaction that writes the ticket.
 */
export async function ticketWaitingChanged(db: DbOrTx, before: WaitingState | undefined, after: WaitingState): Promise<void> {
  const from = before && waitingKey(before);
  const to = waitingKey(after);
  if (from === to && before?.queue_id === after.queue_id) return;
  const changes: { queueId: string; key: number; delta: 1 | -1 }[] = [];
  if (from !== undefined) changes.push({ queueId: before!.queue_id, key: from, delta: -1 });
  if (to !== undefined) changes.push({ queueId: after.queue_id, key: to, delta: 1 });
  await addToTrees(db, changes);
}

/**
 * The queue and how many tickets wait in it ahead of a key, in one statement: the tree nodes the
 * sum needs are one primary-key read each (as many as the key has bits set, at most 34). One
 * statement per number of nodes: SQLite builds a temporary index of an `IN` list's values, so 34
 * slots padded with a node no tree has (they count from 1) cost a third more than the ~8 a key
 * of a million tickets needs (measured: 55 against 40 µs).
 */
const queueWithWaitingBefore = Array.from({ length: MAX_SUM_NODES + 1 }, (_, count) =>
  prepareQuery((db, p: { queueId: string; nodes: number[] }) =>
    db
      .selectFrom('queues')
      .selectAll('queues')
      .select((eb) =>
        eb
          .selectFrom('queue_positions')
          .select((sub) => sub.fn.sum<number | string | null>('waiting').as('n'))
          .where('queue_id', '=', p.queueId)
          .where('node', 'in', slotList(p.nodes, count))
          .as('waiting_before'),
      )
      .where('id', '=', p.queueId),
  ),
);

/** The queue, and how many tickets wait in it ahead of the key (0 for none). */
export async function findQueueWithWaitingBefore(db: DbOrTx, queueId: string, key: number): Promise<{ queue: QueueRow; waitingBefore: number } | undefined> {
  const nodes = nodesToSum(key - 1);
  // The first key of the tree: nothing can be ahead of it.
  if (nodes.length === 0) {
    const queue = await findQueue(db, queueId);
    return queue && { queue, waitingBefore: 0 };
  }
  const row = await queueWithWaitingBefore[nodes.length]!.first(db, { queueId, nodes });
  if (!row) return undefined;
  const { waiting_before, ...queue } = row;
  return { queue, waitingBefore: Number(waiting_before ?? 0) };
}

/**
 * The tree sum of `findQueueWithWaitingBefore` for the ticket row `t` itself, in SQL: a recursive
 * query walks the nodes `nodesToSum(waitingKey(t) - 1)` would list (the key is `positionKey`'s
 * rank and arrival number; each step clears the lowest set bit) and each node is one primary-key
 * read of `queue_positions`, a correlated subquery so that PostgreSQL too seeks the nodes rather
 * than joining the queue's whole tree. Null when the ticket does not wait (`isWaiting`), and when
 * the caller keeps the place read at the queue's current version (`keptQueueId`, `keptVersion`).
 */
export const waitingBeforeTicket = (kept: { keptQueueId: string; keptVersion: number }) =>
  sql<number | string | null>`case when t.status = 'open' and t.assigned_to is null
      and not (t.queue_id = ${kept.keptQueueId} and coalesce(q.waiting_version, -1) = ${kept.keptVersion}) then coalesce((
    with recursive n(i) as (
      select ((cast(t.priority_rank as bigint) << ${sql.lit(Number(SEQ_BITS))}) | t.queue_seq) - 1
      union all select i - (i & -i) from n where i > 0)
    select sum((select p.waiting from queue_positions p where p.queue_id = t.queue_id and p.node = n.i)) from n where n.i > 0
  ), 0) end`;

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
