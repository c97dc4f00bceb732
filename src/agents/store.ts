import type { Insertable } from 'kysely';
import { prepareQuery } from '../db/prepared.js';
import type { AgentRow, AgentTable, DbOrTx } from '../db/schema.js';

/** The agent_brands key of an agent of every brand. */
export const EVERY_BRAND = '*';

export async function insertAgent(db: DbOrTx, row: Insertable<AgentTable>, brandIds: string[] | null): Promise<void> {
  await db.insertInto('agents').values(row).execute();
  await setAgentBrands(db, row.id, brandIds);
}

/** Replaces the brands the agent works on (null: every brand). */
export async function setAgentBrands(db: DbOrTx, agentId: string, brandIds: string[] | null): Promise<void> {
  await db.deleteFrom('agent_brands').where('agent_id', '=', agentId).execute();
  await db
    .insertInto('agent_brands')
    .values((brandIds ?? [EVERY_BRAND]).map((brand_id) => ({ brand_id, agent_id: agentId })))
    .execute();
}

export async function updateAgent(db: DbOrTx, id: string, set: Partial<AgentRow>): Promise<void> {
  await db.updateTable('agents').set(set).where('id', '=', id).execute();
}

export async function findAgent(db: DbOrTx, id: string): Promise<AgentRow | undefined> {
  return db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findAgentByEmail(db: DbOrTx, email: string): Promise<AgentRow | undefined> {
  return db.selectFrom('agents').selectAll().where('email', '=', email).executeTakeFirst();
}

export interface AgentListFilters {
  /** Only agents working on one of these brands (`*` included for agents of every brand); null: all agents. */
  brandKeys: string[] | null;
  email?: string | undefined;
  active?: boolean | undefined;
  afterId?: string | undefined;
  limit: number;
}

/** Oldest first, by id. */
export async function listAgents(db: DbOrTx, f: AgentListFilters): Promise<AgentRow[]> {
  let q = db.selectFrom('agents').selectAll();
  if (f.brandKeys) {
    const keys = f.brandKeys;
    q = keys.length ? q.where('id', 'in', (eb) => eb.selectFrom('agent_brands').select('agent_id').where('brand_id', 'in', keys)) : q.where('id', '=', '');
  }
  if (f.email !== undefined) q = q.where('email', '=', f.email);
  if (f.active !== undefined) q = q.where('active', '=', f.active ? 1 : 0);
  if (f.afterId) q = q.where('id', '>', f.afterId);
  return q.orderBy('id').limit(f.limit).execute();
}

const rosterOfBrand = prepareQuery((db, p: { brandId: string; email: string }) =>
  db
    .selectFrom('agent_brands')
    .innerJoin('agents', 'agents.id', 'agent_brands.agent_id')
    .select(['agents.email', 'agents.active'])
    .where('agent_brands.brand_id', 'in', [p.brandId, EVERY_BRAND])
    // The address itself first, if it is there: then one row says everything.
    .orderBy((eb) => eb.case().when('agents.email', '=', p.email).then(0).else(1).end())
    .orderBy('agents.active', 'desc')
    .limit(1),
);

/**
 * Whether the brand has any agent at all (active or not), and whether `email` is an active one of
 * them: one indexed read, whatever the number of agents.
 */
export async function rosterStanding(db: DbOrTx, brandId: string, email: string): Promise<{ hasAgents: boolean; isActiveAgent: boolean }> {
  const row = await rosterOfBrand.first(db, { brandId, email });
  return { hasAgents: row !== undefined, isActiveAgent: row?.email === email && Number(row.active) === 1 };
}
