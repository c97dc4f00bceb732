import type { DbOrTx, ViewRow } from '../db/schema.js';

export async function insertView(db: DbOrTx, row: ViewRow): Promise<void> {
  await db.insertInto('views').values(row).execute();
}

export async function findView(db: DbOrTx, id: string): Promise<ViewRow | undefined> {
  return db.selectFrom('views').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function updateView(db: DbOrTx, id: string, set: Partial<ViewRow>): Promise<void> {
  await db.updateTable('views').set(set).where('id', '=', id).execute();
}

export async function deleteView(db: DbOrTx, id: string): Promise<void> {
  await db.deleteFrom('views').where('id', '=', id).execute();
}

/** How many views a brand (or an agent) has: for the cap on their number. */
export async function countViewsOf(db: DbOrTx, owner: { brand_id: string } | { agent_id: string }): Promise<number> {
  let q = db.selectFrom('views').select((eb) => eb.fn.countAll().as('n'));
  q = 'brand_id' in owner ? q.where('brand_id', '=', owner.brand_id) : q.where('agent_id', '=', owner.agent_id);
  return Number((await q.executeTakeFirstOrThrow()).n);
}

/**
 * The views of these brands (null: every brand's) and of this agent (null: none), oldest first:
 * one indexed range per brand and one for the agent.
 */
export async function listViews(db: DbOrTx, brandIds: string[] | null, agentId: string | null): Promise<ViewRow[]> {
  const q = db
    .selectFrom('views')
    .selectAll()
    .where((eb) => {
      const either = [];
      if (brandIds === null) either.push(eb('brand_id', 'is not', null));
      else if (brandIds.length) either.push(eb('brand_id', 'in', brandIds));
      if (agentId) either.push(eb('agent_id', '=', agentId));
      return either.length ? eb.or(either) : eb('id', '=', '');
    });
  return q.orderBy('id').execute();
}
