import { sql } from 'kysely';
import { prepareQuery, sendWrite } from '../db/prepared.js';
import type { CustomerRow, DbOrTx } from '../db/schema.js';

/** What some writes add to one customer's row: created with it when the customer is new. */
export interface CustomerTally {
  id: string;
  brand_id: string;
  email: string;
  name: string | null;
  ticket_count: number;
  open_ticket_count: number;
  last_activity_at: string;
  at: string;
}

/**
 * Adds tallies to their customers, creating the missing ones: one statement, each (brand, email)
 * at most once (callers sum first). A customer's name is kept once known; the latest activity wins.
 */
export async function addToCustomers(db: DbOrTx, tallies: readonly CustomerTally[]): Promise<void> {
  if (tallies.length === 0) return;
  // One tally (a create or a reply): the statement built once.
  if (tallies.length === 1) {
    await addToOneCustomer.send(db, { ...tallies[0]! });
    return;
  }
  await sendWrite(db, customerUpsert(db, tallies).compile());
}

const addToOneCustomer = prepareQuery((db, p: CustomerTally & Record<string, unknown>) => customerUpsert(db, [p]));

function customerUpsert(db: DbOrTx, tallies: readonly CustomerTally[]) {
  return db
    .insertInto('customers')
    .values(
      tallies.map((t) => ({
        id: t.id,
        brand_id: t.brand_id,
        email: t.email,
        name: t.name,
        external_id: null,
        notes: null,
        ticket_count: t.ticket_count,
        open_ticket_count: t.open_ticket_count,
        last_activity_at: t.last_activity_at,
        created_at: t.at,
        updated_at: t.at,
      })),
    )
    .onConflict((oc) =>
      oc.columns(['brand_id', 'email']).doUpdateSet({
        name: sql`coalesce(customers.name, excluded.name)`,
        ticket_count: sql`customers.ticket_count + excluded.ticket_count`,
        open_ticket_count: sql`customers.open_ticket_count + excluded.open_ticket_count`,
        last_activity_at: sql`case when excluded.last_activity_at > customers.last_activity_at then excluded.last_activity_at else customers.last_activity_at end`,
      }),
    );
}

export async function addToOpenCount(db: DbOrTx, brandId: string, email: string, delta: number): Promise<void> {
  await db
    .updateTable('customers')
    .set({ open_ticket_count: sql`open_ticket_count + ${delta}` })
    .where('brand_id', '=', brandId)
    .where('email', '=', email)
    .execute();
}

export async function findCustomer(db: DbOrTx, id: string): Promise<CustomerRow | undefined> {
  return db.selectFrom('customers').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function updateCustomer(db: DbOrTx, id: string, set: Partial<CustomerRow>): Promise<void> {
  await db.updateTable('customers').set(set).where('id', '=', id).execute();
}

export interface CustomerListFilters {
  /** null: every brand. */
  brandIds: string[] | null;
  email?: string | undefined;
  /** Lower-cased; matched anywhere in the name, address or external id. */
  q?: string | undefined;
  beforeId?: string | undefined;
  /** Only customers at or after this id (the end of a bounded scan for `q`). */
  fromId?: string | undefined;
  limit: number;
}

const likeEscape = (text: string): string => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** Newest first, by id. `email` reads customers_email_id; a brand list reads customers_brand_id. */
export async function listCustomers(db: DbOrTx, f: CustomerListFilters): Promise<CustomerRow[]> {
  let q = db.selectFrom('customers').selectAll();
  if (f.brandIds) q = f.brandIds.length ? q.where('brand_id', 'in', f.brandIds) : q.where('id', '=', '');
  if (f.email !== undefined) q = q.where('email', '=', f.email);
  if (f.q !== undefined) {
    const pattern = `%${likeEscape(f.q)}%`;
    q = q.where((eb) =>
      eb.or([
        sql<boolean>`email like ${pattern} escape '\\'`,
        sql<boolean>`lower(coalesce(name, '')) like ${pattern} escape '\\'`,
        sql<boolean>`lower(coalesce(external_id, '')) like ${pattern} escape '\\'`,
      ]),
    );
  }
  if (f.beforeId) q = q.where('id', '<', f.beforeId);
  if (f.fromId) q = q.where('id', '>=', f.fromId);
  return q.orderBy('id', 'desc').limit(f.limit).execute();
}

/**
 * Where a scan of `rows` customers, newest first from before `beforeId`, ends: the id of the last
 * one, or undefined when fewer remain. One brand reads its range of customers_brand_id; several or
 * every brand read the primary key (their customers among all), so the work is `rows` index entries
 * either way, whatever the table holds.
 */
export async function scanBoundary(db: DbOrTx, brandIds: string[] | null, beforeId: string | undefined, rows: number): Promise<string | undefined> {
  let q = db.selectFrom('customers').select('id');
  if (brandIds?.length === 1) q = q.where('brand_id', '=', brandIds[0]!);
  if (beforeId) q = q.where('id', '<', beforeId);
  const row = await q
    .orderBy('id', 'desc')
    .limit(1)
    .offset(rows - 1)
    .executeTakeFirst();
  return row?.id;
}
