import type { Insertable, Updateable } from 'kysely';
import { dialectOf } from '../db/dialect-of.js';
import type {
  Db,
  DbOrTx,
  EventRow,
  WebhookAttemptRow,
  WebhookDeliveryRow,
  WebhookDeliveryTable,
  WebhookEndpointRow,
  WebhookEndpointTable,
} from '../db/schema.js';

/*
 * Every statement is portable Kysely, the same on SQLite and PostgreSQL, but for how due deliveries
 * are claimed (claimDueDeliveries). Claims are conditional UPDATEs: a row is taken only while it is
 * unclaimed or its lease has lapsed, so two workers on one database never send the same attempt at
 * once, and a dead worker's claims come back by themselves.
 */

// ----- endpoints

export async function insertEndpoint(db: DbOrTx, row: Insertable<WebhookEndpointTable>): Promise<void> {
  await db.insertInto('webhook_endpoints').values(row).execute();
}

export async function findEndpoint(db: DbOrTx, id: string): Promise<WebhookEndpointRow | undefined> {
  return db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findEndpoints(db: DbOrTx, ids: string[]): Promise<WebhookEndpointRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('webhook_endpoints').selectAll().where('id', 'in', ids).execute();
}

/** Newest first; brand visibility is applied by the caller (brand_ids is JSON text). */
export async function listEndpoints(db: DbOrTx, options: { beforeId?: string | undefined; limit: number }): Promise<WebhookEndpointRow[]> {
  let q = db.selectFrom('webhook_endpoints').selectAll();
  if (options.beforeId) q = q.where('id', '<', options.beforeId);
  return q.orderBy('id', 'desc').limit(options.limit).execute();
}

export async function listEnabledEndpoints(db: DbOrTx): Promise<WebhookEndpointRow[]> {
  return db.selectFrom('webhook_endpoints').selectAll().where('enabled', '=', 1).execute();
}

export async function updateEndpoint(db: DbOrTx, id: string, set: Updateable<WebhookEndpointTable>): Promise<void> {
  await db.updateTable('webhook_endpoints').set(set).where('id', '=', id).execute();
}

export async function deleteEndpoint(db: DbOrTx, id: string): Promise<void> {
  const deliveries = db.selectFrom('webhook_deliveries').select('id').where('endpoint_id', '=', id);
  await db.deleteFrom('webhook_attempts').where('delivery_id', 'in', deliveries).execute();
  await db.deleteFrom('webhook_deliveries').where('endpoint_id', '=', id).execute();
  await db.deleteFrom('webhook_endpoints').where('id', '=', id).execute();
}

// ----- fan-out

export async function listUndispatchedEvents(db: DbOrTx, limit: number): Promise<EventRow[]> {
  return db.selectFrom('event_dispatch_queue as q').innerJoin('events as e', 'e.id', 'q.event_id').selectAll('e').orderBy('q.event_id').limit(limit).execute();
}

/** Unmarks the oldest `limit` undispatched events without reading them (no endpoint is owed them); returns how many. */
export async function discardUndispatchedEvents(db: DbOrTx, limit: number): Promise<number> {
  const oldest = db.selectFrom('event_dispatch_queue').select('event_id').orderBy('event_id').limit(limit);
  const result = await db.deleteFrom('event_dispatch_queue').where('event_id', 'in', oldest).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Idempotent: a delivery that already exists for (endpoint, event) is left alone. */
export async function insertDeliveries(db: DbOrTx, rows: Insertable<WebhookDeliveryTable>[]): Promise<void> {
  // Chunked to stay under SQLite's bound-parameter limit.
  for (let i = 0; i < rows.length; i += 500) {
    await db
      .insertInto('webhook_deliveries')
      .values(rows.slice(i, i + 500))
      .onConflict((oc) => oc.columns(['endpoint_id', 'event_id']).doNothing())
      .execute();
  }
}

/** Whether any event still waits for fan-out. */
export async function hasUndispatchedEvents(db: DbOrTx): Promise<boolean> {
  const rows = await db.selectFrom('event_dispatch_queue').select('event_id').limit(1).execute();
  return rows.length > 0;
}

export async function markEventsDispatched(db: DbOrTx, eventIds: string[]): Promise<void> {
  for (let i = 0; i < eventIds.length; i += 500) {
    await db
      .deleteFrom('event_dispatch_queue')
      .where('event_id', 'in', eventIds.slice(i, i + 500))
      .execute();
  }
}

// ----- deliveries

export async function findDelivery(db: DbOrTx, endpointId: string, id: string): Promise<WebhookDeliveryRow | undefined> {
  return db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).where('endpoint_id', '=', endpointId).executeTakeFirst();
}

export async function listDeliveries(
  db: DbOrTx,
  f: {
    endpointId: string;
    status?: string | undefined;
    beforeId?: string | undefined;
    /** Only deliveries of brand-less events (tests) or events of these brands; null or absent: all. */
    eventBrandIds?: string[] | null | undefined;
    limit: number;
  },
): Promise<WebhookDeliveryRow[]> {
  let q = db.selectFrom('webhook_deliveries').selectAll().where('endpoint_id', '=', f.endpointId);
  if (f.status) q = q.where('status', '=', f.status);
  if (f.beforeId) q = q.where('id', '<', f.beforeId);
  const brands = f.eventBrandIds;
  if (brands) {
    // A primary-key lookup per row read: the page's cost does not grow with the event log.
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('events')
          .select('events.id')
          .whereRef('events.id', '=', 'webhook_deliveries.event_id')
          .where((e) => (brands.length ? e.or([e('events.brand_id', 'is', null), e('events.brand_id', 'in', brands)]) : e('events.brand_id', 'is', null))),
      ),
    );
  }
  return q.orderBy('id', 'desc').limit(f.limit).execute();
}

/** The brand of an event; null for brand-less (test) events and for a missing one. */
export async function findEventBrand(db: DbOrTx, eventId: string): Promise<string | null> {
  const row = await db.selectFrom('events').select('brand_id').where('id', '=', eventId).executeTakeFirst();
  return row?.brand_id ?? null;
}

/**
 * Ends, as failed, the pending deliveries of an endpoint whose events belong to a brand outside
 * `brandIds`: once an endpoint stops covering a brand, no retry sends that brand's events to it.
 * Deliveries a worker is sending right now are left to finish.
 */
export async function cancelDeliveriesOutsideBrands(db: DbOrTx, endpointId: string, brandIds: string[], at: string): Promise<void> {
  await db
    .updateTable('webhook_deliveries')
    .set({ status: 'failed', next_attempt_at: null, updated_at: at })
    .where('endpoint_id', '=', endpointId)
    .where('status', '=', 'pending')
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', at)]))
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('events')
          .select('events.id')
          .whereRef('events.id', '=', 'webhook_deliveries.event_id')
          .where('events.brand_id', 'is not', null)
          .where('events.brand_id', 'not in', brandIds),
      ),
    )
    .execute();
}

export async function listAttempts(db: DbOrTx, deliveryIds: string[]): Promise<WebhookAttemptRow[]> {
  if (deliveryIds.length === 0) return [];
  return db.selectFrom('webhook_attempts').selectAll().where('delivery_id', 'in', deliveryIds).orderBy('attempt').execute();
}

export async function updateDelivery(db: DbOrTx, id: string, set: Updateable<WebhookDeliveryTable>): Promise<number> {
  const result = await db.updateTable('webhook_deliveries').set(set).where('id', '=', id).executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Makes a delivery due now unless a worker holds it; returns whether it did. */
export async function requeueDelivery(db: DbOrTx, id: string, now: string): Promise<boolean> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set({ status: 'pending', next_attempt_at: now, locked_by: null, locked_until: null, updated_at: now })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** When the earliest unclaimed pending delivery falls due; undefined when none waits. */
export async function nextPendingAttemptAt(db: DbOrTx): Promise<string | undefined> {
  const row = await db
    .selectFrom('webhook_deliveries')
    .select((eb) => eb.fn.min('next_attempt_at').as('next'))
    .where('status', '=', 'pending')
    .where('locked_until', 'is', null)
    .executeTakeFirst();
  return row?.next ? String(row.next) : undefined;
}

/** Deliveries due and not yet made: how many, counted up to `cap`, and the earliest time one fell due. */
export interface DueBacklog {
  deliveries: number;
  oldestDueAt: string | undefined;
}

/**
 * The delivery backlog, for metrics: pending deliveries due by `now` to enabled endpoints (the
 * ones `listDueDeliveries` would offer, plus those being sent). Both reads walk the
 * (status, next_attempt_at) index as the dispatcher's own claim does; the count stops at `cap`.
 */
export async function dueBacklog(db: DbOrTx, f: { now: string; cap: number }): Promise<DueBacklog> {
  const due = () =>
    db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhook_endpoints as w', 'w.id', 'd.endpoint_id')
      .where('d.status', '=', 'pending')
      .where('d.next_attempt_at', '<=', f.now)
      .where('w.enabled', '=', 1);
  const counted = await db
    .selectFrom(due().select('d.id').limit(f.cap).as('q'))
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .executeTakeFirstOrThrow();
  const oldest = await due().select('d.next_attempt_at').orderBy('d.next_attempt_at').limit(1).executeTakeFirst();
  return { deliveries: Number(counted.n), oldestDueAt: oldest?.next_attempt_at ?? undefined };
}

export interface DueDelivery {
  id: string;
  endpoint_id: string;
}

/** Pending deliveries that are due, unclaimed (or whose lease lapsed), of enabled endpoints. */
export async function listDueDeliveries(db: DbOrTx, f: { now: string; excludeEndpoints: string[]; limit: number }): Promise<DueDelivery[]> {
  return dueDeliveries(db, f).execute();
}

function dueDeliveries(db: DbOrTx, f: { now: string; excludeEndpoints: string[]; limit: number }) {
  let q = db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_endpoints as w', 'w.id', 'd.endpoint_id')
    .select(['d.id', 'd.endpoint_id'])
    .where('d.status', '=', 'pending')
    .where('d.next_attempt_at', '<=', f.now)
    .where('w.enabled', '=', 1)
    .where((eb) => eb.or([eb('d.locked_until', 'is', null), eb('d.locked_until', '<', f.now)]));
  if (f.excludeEndpoints.length) q = q.where('d.endpoint_id', 'not in', f.excludeEndpoints);
  return q.orderBy('d.next_attempt_at').orderBy('d.id').limit(f.limit);
}

export interface ClaimedDelivery {
  delivery: WebhookDeliveryRow;
  event: EventRow;
}

/**
 * Claims due deliveries (as listDueDeliveries finds them, at most `limit`) for `workerId` until
 * `leaseUntil`: `choose` picks which of them to take (the dispatcher's per-endpoint bounds).
 * Returns those claimed, with their events.
 *
 * - PostgreSQL: in one transaction, the due rows are read `FOR UPDATE SKIP LOCKED`. Rows that
 *   another worker is claiming at that moment are passed over rather than waited for or raced
 *   for, so workers draining one backlog each take the next rows free, not the same first ones;
 *   the rows read but not chosen are free again at the commit, a few milliseconds later.
 * - SQLite: one writer at a time, and no row locks: the rows are listed, then taken with the
 *   conditional UPDATE of claimDeliveries, which skips any another process took in between.
 */
export async function claimDueDeliveries(
  db: Db,
  f: { now: string; excludeEndpoints: string[]; limit: number; workerId: string; leaseUntil: string; choose: (due: DueDelivery[]) => string[] },
): Promise<ClaimedDelivery[]> {
  const claim = { workerId: f.workerId, now: f.now, leaseUntil: f.leaseUntil };
  if (dialectOf(db) === 'postgres') {
    return db.transaction().execute(async (trx) => {
      const due = await dueDeliveries(trx, f).forUpdate('d').skipLocked().execute();
      return claimDeliveries(trx, { ids: f.choose(due), ...claim });
    });
  }
  const due = await listDueDeliveries(db, f);
  return claimDeliveries(db, { ids: f.choose(due), ...claim });
}

/**
 * Claims the given deliveries for `workerId` until `leaseUntil`, skipping any another worker
 * claimed first, and returns those it got with their events.
 */
export async function claimDeliveries(db: DbOrTx, f: { ids: string[]; workerId: string; now: string; leaseUntil: string }): Promise<ClaimedDelivery[]> {
  if (f.ids.length === 0) return [];
  await db
    .updateTable('webhook_deliveries')
    .set({ locked_by: f.workerId, locked_until: f.leaseUntil })
    .where('id', 'in', f.ids)
    .where('status', '=', 'pending')
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', f.now)]))
    .execute();
  const rows = await db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('events as e', 'e.id', 'd.event_id')
    .selectAll('d')
    .select(['e.type as e_type', 'e.brand_id as e_brand_id', 'e.ticket_id as e_ticket_id', 'e.data as e_data', 'e.created_at as e_created_at'])
    .where('d.id', 'in', f.ids)
    .where('d.locked_by', '=', f.workerId)
    .where('d.locked_until', '=', f.leaseUntil)
    .execute();
  return rows.map(({ e_type, e_brand_id, e_ticket_id, e_data, e_created_at, ...delivery }) => ({
    delivery,
    event: { id: delivery.event_id, type: e_type, brand_id: e_brand_id, ticket_id: e_ticket_id, data: e_data, created_at: e_created_at },
  }));
}

export async function insertAttempt(db: DbOrTx, row: WebhookAttemptRow): Promise<void> {
  await db.insertInto('webhook_attempts').values(row).execute();
}

/** Drops finished deliveries (and their attempts) last touched before `before`. */
export async function purgeFinishedDeliveries(db: DbOrTx, before: string): Promise<void> {
  const old = db.selectFrom('webhook_deliveries').select('id').where('status', '!=', 'pending').where('updated_at', '<', before);
  await db.deleteFrom('webhook_attempts').where('delivery_id', 'in', old).execute();
  await db.deleteFrom('webhook_deliveries').where('status', '!=', 'pending').where('updated_at', '<', before).execute();
}
