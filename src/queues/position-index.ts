/**
 * Exact queue positions at a logarithmic cost: per queue, a Fenwick (binary indexed) tree over
 * buckets of the key `priority_rank · 2^32 + queue_seq`, stored as rows `(queue_id, node, waiting)`
 * of `queue_position_buckets`, and the partial index `tickets_queue_order` inside a bucket.
 *
 * A ticket's position is 1 + the waiting tickets of its queue whose key is smaller: those of a
 * higher priority, then those of the same priority that arrived earlier. Counting them with an
 * index scan costs as much as the queue is long (50,000 rows at a million tickets). Instead the
 * tree counts the waiting tickets of every bucket of `2^BUCKET_BITS` keys before the ticket's (at
 * most 24 point reads), and the index counts those of its own bucket ahead of it (at most
 * `2^BUCKET_BITS - 1` entries, a few dozen at a million tickets in 20 queues).
 *
 * Why buckets: a tree over the keys themselves had a row per node of every waiting ticket's path,
 * millions at a million tickets, and each change of a ticket's waiting state wrote about ten of
 * them on ten random pages. A tree over buckets is 2^10 times smaller (tens of thousands of rows
 * at a million tickets): it stays in the page cache, and the writes of one commit share its pages.
 *
 * Triggers on `tickets` (migration 0025) keep the tree in step with every row written, in the
 * writing transaction; this module's arithmetic is what they do, written for the reads and the
 * migration's backfill. `BUCKET_BITS` is part of the stored tree: changing it means a new table.
 */

/** Ticket arrival numbers are below 2^32; priority ranks 0..3 sit above them. */
export const SEQ_BITS = 32;
/** A bucket holds 2^10 consecutive keys: within one priority rank, since 2^10 divides 2^32. */
export const BUCKET_BITS = 10;
const BUCKET_SIZE = 2 ** BUCKET_BITS;
/** Buckets are numbered from 1 to 2^24 (the largest key's): the tree's height, its root node 2^24, and the bits of a bucket number. */
export const TREE_HEIGHT = SEQ_BITS + 2 - BUCKET_BITS;
const BUCKETS = 2 ** TREE_HEIGHT;

export function positionKey(priorityRank: number, queueSeq: number): number {
  if (!Number.isInteger(priorityRank) || priorityRank < 0 || priorityRank > 3) throw new RangeError(`priority rank ${priorityRank} out of range`);
  if (!Number.isInteger(queueSeq) || queueSeq < 1 || queueSeq >= 2 ** SEQ_BITS) throw new RangeError(`queue sequence ${queueSeq} out of range`);
  return priorityRank * 2 ** SEQ_BITS + queueSeq;
}

/** How many buckets come before the key's: its bucket is the next one. Below 2^24, so bitwise operators work on it. */
export const bucketsBefore = (key: number): number => Math.floor(key / BUCKET_SIZE);

/** The tree nodes whose counts change when the ticket with `key` starts or stops waiting. */
export function nodesToUpdate(key: number): number[] {
  const nodes: number[] = [];
  for (let i = bucketsBefore(key) + 1; i <= BUCKETS; i += i & -i) nodes.push(i);
  return nodes;
}

/** The most nodes `nodesToSum` returns: one per bit of the largest bucket number before a key. */
export const MAX_SUM_NODES = TREE_HEIGHT;

/** The nodes whose counts add up to the waiting tickets of the buckets before the key's. */
export function nodesToSum(key: number): number[] {
  const nodes: number[] = [];
  for (let i = bucketsBefore(key); i > 0; i -= i & -i) nodes.push(i);
  return nodes;
}

/** What decides whether and where a ticket waits. */
export interface WaitingState {
  queue_id: string;
  status: string;
  assigned_to: string | null;
  priority_rank: number;
  queue_seq: number;
}

/** Open and unassigned: the tickets a queue hands out, and the only ones with a position. */
export const isWaiting = (row: Pick<WaitingState, 'status' | 'assigned_to'>): boolean => row.status === 'open' && row.assigned_to === null;

/** The ticket's key in its queue, or undefined when it is not waiting. */
export const waitingKey = (row: WaitingState): number | undefined =>
  isWaiting(row) ? positionKey(Number(row.priority_rank), Number(row.queue_seq)) : undefined;
