import { sql } from 'kysely';
import { dialectOf } from '../db/dialect-of.js';
import { prepareQuery, preparedForRows, preparedInsert } from '../db/prepared.js';
import type { DbOrTx, EventRow } from '../db/schema.js';

/** The PostgreSQL notification channel that tells webhook dispatchers an event awaits fan-out. */
export const DISPATCH_CHANNEL = 'nexus_dispatch';

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

const insertEventRow = preparedInsert('events');
/** The mark on SQLite, written only while some webhook endpoint is enabled (see `insertEventsForDispatch`). */
const insertDispatchMarkIfOwed = prepareQuery((db, p: { event_id: string; created_at: string }) =>
  db
    .insertInto('event_dispatch_queue')
    .columns(['event_id', 'created_at'])
    .expression(
      db
        .selectNoFrom((eb) => [eb.val(p.event_id).as('event_id'), eb.val(p.created_at).as('created_at')])
        .where((eb) => eb.exists(eb.selectFrom('webhook_endpoints').select('id').where('enabled', '=', 1))),
    ),
);

export async function insertEvent(db: DbOrTx, row: EventRow): Promise<void> {
  await insertEventRow(db, row);
}

/**
 * Writes a change's events, in the caller's transaction, each marked for webhook fan-out (an
 * `event_dispatch_queue` row, which the dispatcher takes off once it has fanned the event out).
 * Returns whether any was marked.
 *
 * On SQLite the mark is written only if some endpoint is enabled, checked in the same statement:
 * with none, no endpoint is owed the event (the dispatcher would unmark it unread, and an endpoint
 * made later receives only later events), so a mark would cost a row written now, a row deleted
 * later, and the deleting transaction's commit, which also retires every answer the API keeps by
 * committed version. Writers are serialized there, so the check cannot miss an endpoint being
 * enabled by a transaction that commits before this one. (A bulk import of a million tickets
 * without endpoints used to leave ~1.7 million marks for the first start to delete.) Each event
 * takes two statements, calls into the process.
 *
 * On PostgreSQL all of it is one statement, which also notifies DISPATCH_CHANNEL: each statement
 * is a round trip to the server inside the transaction that holds the ticket sequences' locks, and
 * a reply or a status change records two or three events (six statements before). PostgreSQL
 * delivers the notification to the listening dispatchers (src/events/signal.ts) once the
 * transaction commits and never if it rolls back, and folds the repeats of one transaction into
 * one. Committing a transaction that notified takes a lock that orders notifying commits one after
 * the other; ticket writes are already ordered by the `search_state` row lock they all take, so it
 * costs them no more concurrency than they have.
 */
export async function insertEventsForDispatch(db: DbOrTx, rows: readonly EventRow[]): Promise<boolean> {
  if (rows.length === 0) return false;
  if (dialectOf(db) === 'postgres') {
    await insertAndQueueOnPostgres(db, rows);
    return true;
  }
  let queued = false;
  for (const row of rows) {
    await insertEventRow(db, row);
    if ((await insertDispatchMarkIfOwed.run(db, { event_id: row.id, created_at: row.created_at })) > 0) queued = true;
  }
  return queued;
}

// The events' insert with their marks in a CTE (no foreign key between them), and the notification
// in its RETURNING: one statement, counted in the query metrics as the insert into events it is.
const insertAndQueueOnPostgres = preparedForRows<EventRow>(['id', 'type', 'brand_id', 'ticket_id', 'data', 'created_at'], (qb, rows) =>
  qb
    .with('queued', (qc) =>
      qc
        .insertInto('event_dispatch_queue')
        .values(rows.map((r) => ({ event_id: r.id, created_at: r.created_at })))
        .returning('event_id'),
    )
    .insertInto('events')
    .values(rows)
    .returning(sql<string>`pg_notify(${DISPATCH_CHANNEL}, '')`.as('notified')),
);

export async function findEvent(db: DbOrTx, id: string): Promise<EventRow | undefined> {
  return db.selectFrom('events').selectAll().where('id', '=', id).executeTakeFirst();
}

/** What waits for webhook fan-out: the number of events, counted up to `cap`, and when the oldest was written. */
export interface DispatchBacklog {
  events: number;
  oldestCreatedAt: string | undefined;
}

/**
 * The fan-out backlog, for metrics. Bounded whatever the backlog: the count reads at most `cap`
 * keys, and the oldest is the first entry of the primary key (event ids sort by time).
 */
export async function dispatchBacklog(db: DbOrTx, cap: number): Promise<DispatchBacklog> {
  const counted = await db
    .selectFrom((eb) => eb.selectFrom('event_dispatch_queue').select('event_id').limit(cap).as('q'))
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .executeTakeFirstOrThrow();
  const oldest = await db.selectFrom('event_dispatch_queue').select('created_at').orderBy('event_id').limit(1).executeTakeFirst();
  return { events: Number(counted.n), oldestCreatedAt: oldest?.created_at };
}
