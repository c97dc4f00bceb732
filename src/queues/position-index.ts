/**
 * Exact queue positions at a logarithmic cost: a Fenwick (binary indexed) tree per queue, stored
 * as rows `(queue_id, node, waiting)` of `queue_positions`, over the key `priority_rank · 2^32 + queue_seq`.
 *
 * A ticket's position is 1 + the waiting tickets of its queue whose key is smaller: those of a
 * higher priority, then those of the same priority that arrived earlier. Counting them with an
 * index scan costs as much as the queue is long (50,000 rows at a million tickets); the tree
 * answers with at most 34 point reads and is kept current with at most 34 upserts when a ticket
 * starts or stops waiting. Only nodes that ever counted a ticket have a row.
 *
 * The arithmetic is on BigInt: keys pass 2^32, where JavaScript's bitwise operators stop working.
 */

/** Ticket arrival numbers are below 2^32; priority ranks 0..3 sit above them. */
export const SEQ_BITS = 32n;
/** The largest key: rank 3, the largest arrival number. A power of two bounds the tree. */
const KEY_SPACE = 4n << SEQ_BITS;

export function positionKey(priorityRank: number, queueSeq: number): number {
  if (!Number.isInteger(priorityRank) || priorityRank < 0 || priorityRank > 3) throw new RangeError(`priority rank ${priorityRank} out of range`);
  if (!Number.isInteger(queueSeq) || queueSeq < 1 || queueSeq >= 2 ** 32) throw new RangeError(`queue sequence ${queueSeq} out of range`);
  return Number((BigInt(priorityRank) << SEQ_BITS) | BigInt(queueSeq));
}

const lowBit = (i: bigint): bigint => i & -i;

/** The nodes whose counts change when the ticket with `key` starts or stops waiting. */
export function nodesToUpdate(key: number): number[] {
  const nodes: number[] = [];
  for (let i = BigInt(key); i <= KEY_SPACE; i += lowBit(i)) nodes.push(Number(i));
  return nodes;
}

/** The most nodes `nodesToSum` returns: one per bit of the largest key. */
export const MAX_SUM_NODES = Number(SEQ_BITS) + 2;

/** The nodes whose counts add up to the number of waiting tickets with a key of at most `key`. */
export function nodesToSum(key: number): number[] {
  const nodes: number[] = [];
  for (let i = BigInt(key); i > 0n; i -= lowBit(i)) nodes.push(Number(i));
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

/** The ticket's key in its queue's tree, or undefined when it is not waiting. */
export const waitingKey = (row: WaitingState): number | undefined =>
  isWaiting(row) ? positionKey(Number(row.priority_rank), Number(row.queue_seq)) : undefined;
