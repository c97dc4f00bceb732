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

export async function findEvent(db: DbOrTx, id: string): Promise<EventRow | undefined> {
  return db.selectFrom('events').selectAll().where('id', '=', id).executeTakeFirst();
}
