import type { Kysely } from 'kysely';
import { positionKey } from '../../queues/position-index.js';

/**
 * Fills a table of queue trees `(queue_id, node, waiting)` from the tickets waiting now: for each,
 * +1 on every node `nodesOf` gives for its key. Migrations 0008 (the tree over every key) and 0025
 * (over buckets) each pass their own tree's path.
 */
export async function fillQueueTrees(db: Kysely<any>, table: string, nodesOf: (key: number) => number[]): Promise<void> {
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
    for (const node of nodesOf(positionKey(Number(t.priority_rank), Number(t.queue_seq)))) nodes.set(node, (nodes.get(node) ?? 0) + 1);
  }
  const rows = [...counts].flatMap(([queue_id, nodes]) => [...nodes].map(([node, n]) => ({ queue_id, node, waiting: n })));
  for (let i = 0; i < rows.length; i += 500)
    await db
      .insertInto(table)
      .values(rows.slice(i, i + 500))
      .execute();
}
