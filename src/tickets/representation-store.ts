import { dialectOf } from '../db/dialect-of.js';
import type { DbOrTx, TicketRow } from '../db/schema.js';
import { prepareQuery, preparedForRows } from '../db/prepared.js';
import { keptPlaceOf, placeOf, waitingBeforeTicket } from '../queues/store.js';

/** A ticket's fields and conversation as JSON text, for one version of the ticket and one shape (migration 0024). */
export type StoredRepresentation = {
  ticket_id: string;
  version: number;
  shape: string;
  fields: string;
  conversation: string;
};

/**
 * The JSON as the columns return it, as text. SQLite stores it as TEXT and returns a string: a
 * string lives on the JavaScript heap and dies young, where the bytes of a BLOB (a Buffer) live
 * outside it, and their turnover alone (~10 KB a read with the answer joined from them) started a
 * collection of the old generation about once a second under reads. PostgreSQL stores bytes
 * (bytea); a row written as a BLOB before reads as bytes too.
 */
const textOf = (value: Buffer | string): string => (typeof value === 'string' ? value : value.toString('utf8'));

/** What a read answered from stored JSON needs of the ticket's row: its sight, its ETag and its queue place. */
export type TicketHead = Pick<TicketRow, 'id' | 'brand_id' | 'version' | 'status' | 'assigned_to' | 'queue_id'>;

const storedTicket = prepareQuery((db, p: { id: string; shape: string; keptQueueId: string; keptVersion: number }) =>
  db
    .selectFrom('tickets as t')
    .leftJoin('queues as q', 'q.id', 't.queue_id')
    .leftJoin('ticket_representations as r', (join) => join.onRef('r.ticket_id', '=', 't.id').onRef('r.version', '=', 't.version').on('r.shape', '=', p.shape))
    .select(['t.id', 't.brand_id', 't.version', 't.status', 't.assigned_to', 't.queue_id', 't.priority_rank', 't.queue_seq'])
    .select(['q.name as queue_name', 'q.waiting_version as queue_waiting_version', waitingBeforeTicket(p).as('queue_waiting_before')])
    .select(['r.fields', 'r.conversation'])
    .where('t.id', '=', p.id),
);

/**
 * A ticket's head (the columns of `TicketHead`), its queue's name and place, and its JSON stored for
 * its current version in this shape, in one statement: all a retrieve of a stored ticket reads. On
 * SQLite each statement outside a transaction is a read transaction of its own, and the ticket's
 * full row is ~30 columns more to turn into values; neither is paid here. `stored` is undefined
 * when no JSON of the ticket's version is stored (the caller reads the ticket in full).
 */
export async function findStoredTicket(
  db: DbOrTx,
  id: string,
  shape: string,
): Promise<
  | { ticket: TicketHead; queueName: string | null; waitingBefore: number | null; stored: Pick<StoredRepresentation, 'fields' | 'conversation'> | undefined }
  | undefined
> {
  const row = await storedTicket.first(db, { id, shape, ...keptPlaceOf(db, id) });
  if (!row) return undefined;
  const ticket: TicketHead = {
    id: row.id,
    brand_id: row.brand_id,
    version: row.version,
    status: row.status,
    assigned_to: row.assigned_to,
    queue_id: row.queue_id,
  };
  const stored = row.fields === null || row.conversation === null ? undefined : { fields: textOf(row.fields), conversation: textOf(row.conversation) };
  return { ticket, ...placeOf(db, id, row), stored };
}

/** Stores each row, replacing whatever the ticket had stored: one representation a ticket. */
export async function saveRepresentations(db: DbOrTx, rows: StoredRepresentation[]): Promise<void> {
  // PostgreSQL's bytea takes bytes; SQLite keeps the text as it is (see `textOf`).
  await upsertRepresentations(
    db,
    dialectOf(db) === 'postgres' ? rows.map((r) => ({ ...r, fields: Buffer.from(r.fields), conversation: Buffer.from(r.conversation) })) : rows,
  );
}

const upsertRepresentations = preparedForRows(
  ['ticket_id', 'version', 'shape', 'fields', 'conversation'],
  (db, rows: (Omit<StoredRepresentation, 'fields' | 'conversation'> & { fields: Buffer | string; conversation: Buffer | string })[]) =>
    db
      .insertInto('ticket_representations')
      .values(rows)
      .onConflict((oc) =>
        oc.column('ticket_id').doUpdateSet((eb) => ({
          version: eb.ref('excluded.version'),
          shape: eb.ref('excluded.shape'),
          fields: eb.ref('excluded.fields'),
          conversation: eb.ref('excluded.conversation'),
        })),
      ),
  16,
);

/**
 * The tickets after `after` in id order, `limit` of them: which of them have no JSON stored for
 * their current version in this shape, and the last id looked at (undefined when the window reached
 * the last ticket).
 * A sweep's step: its cost is the window's, whatever the table's size.
 */
export async function findUnstoredTickets(db: DbOrTx, after: string, shape: string, limit: number): Promise<{ unstored: string[]; last: string | undefined }> {
  const window = db.selectFrom('tickets').select(['id', 'version']).where('id', '>', after).orderBy('id').limit(limit).as('t');
  const rows = await db
    .selectFrom(window)
    .leftJoin('ticket_representations as r', (join) => join.onRef('r.ticket_id', '=', 't.id').onRef('r.version', '=', 't.version').on('r.shape', '=', shape))
    .select(['t.id', 'r.ticket_id as stored'])
    .orderBy('t.id')
    .execute();
  return { unstored: rows.filter((r) => r.stored === null).map((r) => r.id), last: rows.length < limit ? undefined : rows.at(-1)!.id };
}

/** Drops the tickets' stored representations (a customer's erasure: no copy of what it redacts stays). */
export async function deleteRepresentations(db: DbOrTx, ticketIds: readonly string[]): Promise<void> {
  for (let i = 0; i < ticketIds.length; i += 500) {
    await db
      .deleteFrom('ticket_representations')
      .where('ticket_id', 'in', ticketIds.slice(i, i + 500))
      .execute();
  }
}
