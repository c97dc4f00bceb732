import { sql } from 'kysely';
import { dialectOf } from '../db/dialect-of.js';
import { prepareQuery } from '../db/prepared.js';
import type { DbOrTx, TicketRow, ViewRow } from '../db/schema.js';
import { fromJsonText } from '../shared/json.js';
import { ticketsMatching } from '../tickets/count-store.js';
import { type MatchedTicket, type TicketConditions, type TicketListFilterQuery, parseTicketConditions, ticketMatches } from '../tickets/filters.js';

/*
 * The ticket count of every custom view, kept as the built-in views' are (src/tickets/count-store.ts):
 * `view_counts (view_id, brand_id, count)` (migration 0018) holds how many tickets of each brand meet
 * the view's filters. Every ticket row write calls `viewCountsChanged` in its own transaction, which
 * tests the row before and after against each view that could hold it, in code, and moves the
 * counters it enters or leaves; creating a view or changing its filters counts it once
 * (`recountView`), with ticket writes held off meanwhile so that none is counted twice or missed.
 * A poll then sums a few counter rows per view: exact at every commit, whatever the number of tickets.
 */

type CountedView = Pick<ViewRow, 'id' | 'brand_id' | 'filters'>;

interface CompiledView {
  /** The only brand whose tickets the view holds (its own, or its filters' brand_id); null: any brand. */
  brandId: string | null;
  conditions: TicketConditions;
}

/** Parsed filters by their JSON text: a pure function of it, so one cache serves every database. */
const compiled = new Map<string, CompiledView | null>();
const COMPILED_ENTRIES = 1000;

/**
 * The view's filters as conditions; null when they no longer parse (saved under an older rule): such
 * a view matches nothing until edited, as its listing answers with the problem.
 */
function compile(view: CountedView): CompiledView | null {
  const key = `${view.brand_id ?? ''}\n${view.filters}`;
  let out = compiled.get(key);
  if (out === undefined) {
    const filters = fromJsonText<TicketListFilterQuery>(view.filters, {});
    try {
      out = { brandId: view.brand_id ?? filters.brand_id ?? null, conditions: parseTicketConditions(filters) };
    } catch {
      out = null;
    }
    if (compiled.size >= COMPILED_ENTRIES) compiled.clear();
    compiled.set(key, out);
  }
  return out;
}

const holds = (v: CompiledView, t: MatchedTicket & { brand_id: string }): boolean =>
  (v.brandId === null || v.brandId === t.brand_id) && ticketMatches(v.conditions, t);

/** The fields a view's filters or brand read: a write that changes none of them moves no counter. */
const MATCHED_FIELDS = ['brand_id', 'status', 'priority', 'assigned_to', 'tags', 'customer_email', 'created_at', 'updated_at'] as const;

/** The views that may hold a ticket of either brand: theirs, and every agent's. Prepared: every ticket write reads it. */
const viewsHolding = prepareQuery((db, p: { brandA: string; brandB: string }) =>
  db
    .selectFrom('views')
    .select(['id', 'brand_id', 'filters'])
    .where((eb) => eb.or([eb('brand_id', '=', p.brandA), eb('brand_id', '=', p.brandB), eb('agent_id', 'is not', null)])),
);

/**
 * Moves the ticket between the counters of the views it leaves and enters: `before` is the row as
 * it was (undefined: a new ticket), `after` as it is now. Called by the ticket store after it wrote
 * the row, in the same transaction: on PostgreSQL the row write's table lock comes first, so a
 * `recountView` either counted this write already or waits for it to commit (see `holdTicketWrites`).
 * Reads the views of the ticket's brand(s) and every agent's view (one indexed read); writes one
 * upsert, rows in key order, only when a count changes.
 */
export async function viewCountsChanged(db: DbOrTx, before: TicketRow | undefined, after: TicketRow): Promise<void> {
  if (before && MATCHED_FIELDS.every((f) => before[f] === after[f])) return;
  const brands = before && before.brand_id !== after.brand_id ? [before.brand_id, after.brand_id] : [after.brand_id];
  const views = await viewsHolding.all(db, { brandA: brands[0]!, brandB: brands[1] ?? brands[0]! });
  const deltas = new Map<string, { view_id: string; brand_id: string; count: number }>();
  const add = (viewId: string, brandId: string, delta: number) => {
    const key = `${viewId}\n${brandId}`;
    const d = deltas.get(key) ?? { view_id: viewId, brand_id: brandId, count: 0 };
    d.count += delta;
    deltas.set(key, d);
  };
  for (const view of views) {
    const v = compile(view);
    if (!v) continue;
    if (before && holds(v, before)) add(view.id, before.brand_id, -1);
    if (holds(v, after)) add(view.id, after.brand_id, 1);
  }
  const rows = [...deltas.entries()]
    .filter(([, d]) => d.count !== 0)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([, d]) => d);
  if (!rows.length) return;
  await db
    .insertInto('view_counts')
    .values(rows)
    .onConflict((oc) => oc.columns(['view_id', 'brand_id']).doUpdateSet((eb) => ({ count: eb('view_counts.count', '+', eb.ref('excluded.count')) })))
    .execute();
}

/**
 * Holds every ticket write off until the calling transaction ends, and waits for those under way
 * to commit: the first statement of a transaction that counts a view. PostgreSQL: a SHARE lock on
 * `tickets`, which every ticket write's row lock conflicts with (reads go on). SQLite: a write, which
 * takes the database's one write lock for the rest of the transaction (and cannot then fail to
 * upgrade a read snapshot another process wrote past).
 */
export async function holdTicketWrites(db: DbOrTx): Promise<void> {
  if (dialectOf(db) === 'postgres') await sql`lock table tickets in share mode`.execute(db);
  else await db.deleteFrom('view_counts').where('view_id', '=', '').execute();
}

/**
 * Counts the view afresh into its counters: one grouped count over its matching tickets (the work
 * of the ticket list's indexes, once per view created or re-filtered). The caller holds ticket
 * writes off (`holdTicketWrites`) in the same transaction.
 */
export async function recountView(db: DbOrTx, view: CountedView): Promise<void> {
  await db.deleteFrom('view_counts').where('view_id', '=', view.id).execute();
  const counted = await countView(db, view);
  if (counted.size) {
    await db
      .insertInto('view_counts')
      .values([...counted].map(([brand_id, count]) => ({ view_id: view.id, brand_id, count })))
      .execute();
  }
}

/** The view's tickets per brand, counted through the ticket indexes: for `recountView` and consistency checks. */
export async function countView(db: DbOrTx, view: CountedView): Promise<Map<string, number>> {
  const v = compile(view);
  if (!v) return new Map();
  const rows = await ticketsMatching(db, { brandIds: v.brandId === null ? null : [v.brandId], ...v.conditions })
    .select((eb) => ['brand_id', eb.fn.countAll().as('n')])
    .groupBy('brand_id')
    .execute();
  return new Map(rows.map((r) => [r.brand_id, Number(r.n)]));
}

/** Drops a deleted view's counters; the caller holds ticket writes off, so none is written again. */
export async function deleteViewCounts(db: DbOrTx, viewId: string): Promise<void> {
  await db.deleteFrom('view_counts').where('view_id', '=', viewId).execute();
}

/** The view's kept counters per brand, zeros left out: for consistency checks. */
export async function keptViewCounts(db: DbOrTx, viewId: string): Promise<Map<string, number>> {
  const rows = await db.selectFrom('view_counts').select(['brand_id', 'count']).where('view_id', '=', viewId).execute();
  return new Map(rows.filter((r) => Number(r.count) !== 0).map((r) => [r.brand_id, Number(r.count)]));
}

/**
 * The counts of these views, summed over `brandIds` (null: every brand): one indexed range of
 * counter rows per view, so the work grows with views × brands, never with tickets. A view
 * without counter rows counts 0.
 */
export async function viewCounts(db: DbOrTx, viewIds: string[], brandIds: string[] | null): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (!viewIds.length || brandIds?.length === 0) return out;
  let q = db
    .selectFrom('view_counts')
    .select(['view_id', sql<string | number>`sum(count)`.as('n')])
    .where('view_id', 'in', viewIds)
    .groupBy('view_id');
  if (brandIds) q = q.where('brand_id', 'in', brandIds);
  for (const row of await q.execute()) out.set(row.view_id, Number(row.n));
  return out;
}
