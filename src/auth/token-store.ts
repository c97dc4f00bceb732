import { prepareQuery } from '../db/prepared.js';
import type { DbOrTx, TokenRow, TokenTable } from '../db/schema.js';
import type { Insertable } from 'kysely';

export async function insertToken(db: DbOrTx, row: Insertable<TokenTable>): Promise<void> {
  await db.insertInto('tokens').values(row).execute();
}

const tokenByHash = prepareQuery((db, p: { secretHash: string }) =>
  db
    .selectFrom('tokens')
    .leftJoin('agents', 'agents.id', 'tokens.agent_id')
    .selectAll('tokens')
    .select(['agents.name as agent_name', 'agents.email as agent_email', 'agents.active as agent_active'])
    .where('secret_hash', '=', p.secretHash),
);

/** A token with the agent it belongs to, if any (the agent fields are null otherwise). */
export type TokenWithAgent = TokenRow & { agent_name: string | null; agent_email: string | null; agent_active: number | null };

/** Every authenticated request makes this read: the token and, in the same read, its agent. */
export async function findTokenByHash(db: DbOrTx, secretHash: string): Promise<TokenWithAgent | undefined> {
  return tokenByHash.first(db, { secretHash });
}

export async function findToken(db: DbOrTx, id: string): Promise<TokenRow | undefined> {
  return db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listTokens(db: DbOrTx): Promise<TokenRow[]> {
  return db.selectFrom('tokens').selectAll().orderBy('id', 'asc').execute();
}

export async function countTokens(db: DbOrTx): Promise<number> {
  const row = await db
    .selectFrom('tokens')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function revokeToken(db: DbOrTx, id: string, at: string): Promise<void> {
  await db.updateTable('tokens').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).execute();
}

export async function touchToken(db: DbOrTx, id: string, at: string): Promise<void> {
  await db.updateTable('tokens').set({ last_used_at: at }).where('id', '=', id).execute();
}
