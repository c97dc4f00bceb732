import { type SelectQueryBuilder, sql } from 'kysely';
import { prepareQuery } from '../db/prepared.js';
import type { Database, DbOrTx, TicketRow } from '../db/schema.js';

/*
 * Counting tickets without counting them (what views show, src/views): `ticket_counts` holds the
 * number of tickets per (brand, status, assignee); `ticketCountsChanged` is called by the ticket
 * store on every insert and update of a ticket row, inside the writing transaction, so the counters
 * are exact at every commit. And the tickets that meet a ticket list's filters, as a query (what a
 * custom view is counted with when it is created or re-filtered, src/views/count-store.ts).
 */

type CountKey = Pick<TicketRow, 'brand_id' | 'status' | 'assigned_to'>;

const keyOf = (row: CountKey): [string, string, string] => [row.brand_id, row.status, row.assigned_to ?? ''];

/**
 * Moves a ticket between counters: out of `before`'s (brand, status, assignee), into `after`'s.
 * Undefined `before`: a new ticket. One statement, nothing when the three are unchanged; the rows
 * are written in key order, so two writers on PostgreSQL take their locks in one order and cannot
 * deadlock.
 */
export async function ticketCountsChanged(db: DbOrTx, before: CountKey | undefined, after: CountKey): Promise<void> {
  const to = keyOf(after);
  const from = before && keyOf(before);
  if (from && from[0] === to[0] && from[1] === to[1] && from[2] === to[2]) return;
  const rows = [{ key: to, delta: 1 }];
  if (from) rows.push({ key: from, delta: -1 });
  rows.sort((a, b) => (a.key.join('\n') < b.key.join('\n') ? -1 : 1));
  const params: Record<string, string | number> = {};
  for (const [i, { key, delta }] of rows.entries()) {
    params[`b${i}`] = key[0];
    params[`s${i}`] = key[1];
    params[`a${i}`] = key[2];
    params[`c${i}`] = delta;
  }
  await (rows.length === 1 ? addToOneCount : addToTwoCounts).send(db, params);
}

type CountDelta = { brand_id: string; status: string; assigned_to: string; count: number };
// Built once each: a new ticket moves one counter, a change of brand, status or assignee two.
const countUpsert = (db: DbOrTx, slots: Record<string, unknown>, n: number) =>
  db
    .insertInto('ticket_counts')
    .values(
      Array.from(
        { length: n },
        (_, i): CountDelta => ({ brand_id: slots[`b${i}`], status: slots[`s${i}`], assigned_to: slots[`a${i}`], count: slots[`c${i}`] }) as CountDelta,
      ),
    )
    .onConflict((oc) =>
      oc.columns(['brand_id', 'status', 'assigned_to']).doUpdateSet((eb) => ({ count: eb('ticket_counts.count', '+', eb.ref('excluded.count')) })),
    );
const addToOneCount = prepareQuery((db, slots: Record<string, unknown>) => countUpsert(db, slots, 1));
const addToTwoCounts = prepareQuery((db, slots: Record<string, unknown>) => countUpsert(db, slots, 2));

/** The built-in views' counts, for the tickets of `brandIds` (null: every brand). */
export interface BuiltinCounts {
  /** Open or pending, assigned to `me`. */
  mine: number;
  /** Open or pending, assigned to nobody. */
  unassigned: number;
  open: number;
  pending: number;
  snoozed: number;
}

/**
 * Sums the counters of the brands: one indexed range per brand over its (status, assignee) rows of
 * the three unresolved statuses. The work grows with brands × assignees, never with tickets.
 * `me` null (a token without an agent): `mine` is 0.
 */
export async function builtinCounts(db: DbOrTx, brandIds: string[] | null, me: string | null): Promise<BuiltinCounts> {
  const out: BuiltinCounts = { mine: 0, unassigned: 0, open: 0, pending: 0, snoozed: 0 };
  if (brandIds?.length === 0) return out;
  let q = db
    .selectFrom('ticket_counts')
    .select((eb) => [
      'status',
      eb
        .case()
        .when('assigned_to', '=', '')
        .then('none')
        .when('assigned_to', '=', me ?? '')
        .then('me')
        .else('other')
        .end()
        .as('who'),
      sql<string | number>`sum(count)`.as('n'),
    ])
    .where('status', 'in', ['open', 'pending', 'snoozed'])
    .groupBy(['status', 'who']);
  if (brandIds) q = q.where('brand_id', 'in', brandIds);
  for (const row of await q.execute()) {
    const n = Number(row.n);
    if (row.status === 'open') out.open += n;
    if (row.status === 'pending') out.pending += n;
    if (row.status === 'snoozed') out.snoozed += n;
    if (row.status !== 'snoozed' && row.who === 'none') out.unassigned += n;
    if (row.status !== 'snoozed' && row.who === 'me' && me) out.mine += n;
  }
  return out;
}

/** The ticket counters as a map `brand\nstatus\nassignee` → count, zeros left out: for consistency checks. */
export async function allTicketCounts(db: DbOrTx): Promise<Map<string, number>> {
  const rows = await db.selectFrom('ticket_counts').selectAll().execute();
  return new Map(rows.filter((r) => Number(r.count) !== 0).map((r) => [`${r.brand_id}\n${r.status}\n${r.assigned_to}`, Number(r.count)]));
}

/** What a COUNT over the tickets says the counters should be, the same way: for consistency checks and repair. */
export async function recountTickets(db: DbOrTx): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('tickets')
    .select((eb) => ['brand_id', 'status', eb.fn.coalesce('assigned_to', sql.lit('')).as('who'), eb.fn.countAll().as('n')])
    .groupBy(['brand_id', 'status', 'who'])
    .execute();
  return new Map(rows.map((r) => [`${r.brand_id}\n${r.status}\n${r.who}`, Number(r.n)]));
}

/** The filters a count applies: the ticket list's (src/tickets/store.ts), without its order and page. */
export interface TicketCountFilters {
  brandIds: string[] | null;
  /** Any of these. */
  statuses?: string[] | undefined;
  priority?: string | undefined;
  assigned_to?: string | undefined;
  /** true: only tickets with no assignee; false: only assigned ones. */
  unassigned?: boolean | undefined;
  /** Every one of these tags. */
  tagsAll?: string[] | undefined;
  /** At least one of these tags. */
  tagsAny?: string[] | undefined;
  customer_email?: string | undefined;
  created_after?: string | undefined;
  created_before?: string | undefined;
  updated_after?: string | undefined;
  updated_before?: string | undefined;
}

/**
 * The tickets that match, as a query to select from: the same conditions as the ticket list's
 * query (src/tickets/store.ts listTickets), and in code as `ticketMatches` (src/tickets/filters.ts).
 */
export function ticketsMatching(db: DbOrTx, f: TicketCountFilters): SelectQueryBuilder<Database, 'tickets', object> {
  // Every filter of the ticket list is named here: one the list gains fails to compile until it is counted too.
  const {
    brandIds,
    statuses,
    priority,
    assigned_to,
    unassigned,
    tagsAll,
    tagsAny,
    customer_email,
    created_after,
    created_before,
    updated_after,
    updated_before,
    ...rest
  } = f;
  const none: Record<string, never> = rest;
  void none;
  let q: SelectQueryBuilder<Database, 'tickets', object> = db.selectFrom('tickets');
  if (brandIds) q = brandIds.length ? q.where('brand_id', 'in', brandIds) : q.where('id', '=', '');
  if (statuses?.length) q = statuses.length === 1 ? q.where('status', '=', statuses[0]!) : q.where('status', 'in', statuses);
  if (priority) q = q.where('priority', '=', priority);
  if (assigned_to) q = q.where('assigned_to', '=', assigned_to);
  if (unassigned === true) q = q.where('assigned_to', 'is', null);
  if (unassigned === false) q = q.where('assigned_to', 'is not', null);
  if (customer_email) q = q.where('customer_email', '=', customer_email);
  if (created_after) q = q.where('created_at', '>', created_after);
  if (created_before) q = q.where('created_at', '<', created_before);
  if (updated_after) q = q.where('updated_at', '>', updated_after);
  if (updated_before) q = q.where('updated_at', '<', updated_before);
  for (const tag of tagsAll ?? []) q = q.where('id', 'in', (eb) => eb.selectFrom('ticket_tags').select('ticket_id').where('tag', '=', tag));
  if (tagsAny?.length) q = q.where('id', 'in', (eb) => eb.selectFrom('ticket_tags').select('ticket_id').where('tag', 'in', tagsAny));
  return q;
}
