import type { DbOrTx, EventRow } from '../db/schema.js';

export interface EventListFilters {
  /** null: every brand. */
  brandIds: string[] | null;
  type?: string | undefined;
  /** Types never listed (the per-endpoint `webhook.test`). */
  excludeTypes: string[];
  afterId?: string | undefined;
  limit: number;
}

/** Oldest first, by id: the order a consumer catching up replays them in. */
export async function listEvents(db: DbOrTx, f: EventListFilters): Promise<EventRow[]> {
  let q = db.selectFrom('events').selectAll();
  if (f.brandIds) q = f.brandIds.length ? q.where('brand_id', 'in', f.brandIds) : q.where('id', '=', '');
  if (f.type) q = q.where('type', '=', f.type);
  if (f.excludeTypes.length) q = q.where('type', 'not in', f.excludeTypes);
  if (f.afterId) q = q.where('id', '>', f.afterId);
  return q.orderBy('id', 'asc').limit(f.limit).execute();
}

export async function insertEvent(db: DbOrTx, row: EventRow): Promise<void> {
  await db.insertInto('events').values(row).execute();
}

/** Marks an event for webhook fan-out; the dispatcher takes the mark off once it has fanned it out. */
export async function queueForDispatch(db: DbOrTx, event: Pick<EventRow, 'id' | 'created_at'>): Promise<void> {
  await db.insertInto('event_dispatch_queue').values({ event_id: event.id, created_at: event.created_at }).execute();
}

export async function findEvent(db: DbOrTx, id: string): Promise<EventRow | undefined> {
  return db.selectFrom('events').selectAll().where('id', '=', id).executeTakeFirst();
}
