import type { Insertable } from 'kysely';
import type { DbOrTx, QueueRow, QueueTable } from '../db/schema.js';

export async function insertQueue(db: DbOrTx, row: Insertable<QueueTable>): Promise<void> {
  await db.insertInto('queues').values(row).execute();
}

export async function findQueue(db: DbOrTx, id: string): Promise<QueueRow | undefined> {
  return db.selectFrom('queues').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The brand's queues in routing order: routing queues by sort_order, the default queue last. */
export async function listQueues(db: DbOrTx, brandIds: string[] | null): Promise<QueueRow[]> {
  let q = db.selectFrom('queues').selectAll().orderBy('brand_id').orderBy('is_default').orderBy('sort_order').orderBy('id');
  if (brandIds) q = brandIds.length ? q.where('brand_id', 'in', brandIds) : q.where('id', '=', '');
  return q.execute();
}

export async function updateQueue(db: DbOrTx, id: string, set: Partial<Insertable<QueueTable>>): Promise<void> {
  await db.updateTable('queues').set(set).where('id', '=', id).execute();
}
