import type { Insertable } from 'kysely';
import type { AuditEntryRow, AuditEntryTable, DbOrTx, MessageRow, MessageTable, NewTicketRow, TicketRow, TicketRowUpdate } from '../db/schema.js';
import { prepareQuery, slotList } from '../db/prepared.js';
import * as queues from '../queues/store.js';

/** Inserts a ticket with the next arrival number and, when it waits, counts it into its queue. */
export async function insertTicket(db: DbOrTx, fields: Omit<NewTicketRow, 'queue_seq'>, tags: string[]): Promise<TicketRow> {
  const row = { ...fields, queue_seq: await queues.nextTicketSeq(db) } as TicketRow;
  await db.insertInto('tickets').values(row).execute();
  if (tags.length)
    await db
      .insertInto('ticket_tags')
      .values(tags.map((tag) => ({ ticket_id: row.id, tag })))
      .execute();
  await queues.ticketWaitingChanged(db, undefined, row);
  return row;
}

const ticketById = prepareQuery((db, p: { id: string }) => db.selectFrom('tickets').selectAll().where('id', '=', p.id));

/**
 * Takes the ticket's row lock for the rest of the transaction (PostgreSQL; SQLite's one writer
 * holds its lock from the transaction's start): a no-op write, so it reads the same on every dialect.
 */
export async function lockTicket(db: DbOrTx, id: string): Promise<void> {
  await db
    .updateTable('tickets')
    .set((eb) => ({ version: eb.ref('version') }))
    .where('id', '=', id)
    .execute();
}

export async function findTicket(db: DbOrTx, id: string): Promise<TicketRow | undefined> {
  return ticketById.first(db, { id });
}

/**
 * Writes `set` over the ticket `before` (as read in the same transaction) and moves it in the
 * queue trees when it starts, stops or changes place waiting. Returns the row as it now is.
 */
export async function updateTicket(db: DbOrTx, before: TicketRow, set: TicketRowUpdate, tags?: string[]): Promise<TicketRow> {
  const id = before.id;
  const after = { ...before, ...set } as TicketRow;
  await db.updateTable('tickets').set(set).where('id', '=', id).execute();
  await queues.ticketWaitingChanged(db, before, after);
  if (tags) {
    await db.deleteFrom('ticket_tags').where('ticket_id', '=', id).execute();
    if (tags.length)
      await db
        .insertInto('ticket_tags')
        .values(tags.map((tag) => ({ ticket_id: id, tag })))
        .execute();
  }
  return after;
}

export interface TicketListFilters {
  brandIds: string[] | null;
  status?: string | undefined;
  priority?: string | undefined;
  assigned_to?: string | undefined;
  tag?: string | undefined;
  customer_email?: string | undefined;
  created_after?: string | undefined;
  created_before?: string | undefined;
  /** Only ids below this one: the keyset that keeps pages stable while tickets are added. */
  beforeId?: string | undefined;
  limit: number;
}

type ListParams = Omit<TicketListFilters, 'brandIds'> & { brandIds: string[] };

/** The list query for one combination of filters (which are set, how many brands): built once each. */
function listQueryFor(shape: TicketListFilters) {
  const brands = shape.brandIds?.length;
  return prepareQuery((db, p: ListParams) => {
    let q = db.selectFrom('tickets').selectAll();
    if (brands !== undefined) q = brands ? q.where('brand_id', 'in', slotList(p.brandIds, brands)) : q.where('id', '=', '');
    if (shape.status) q = q.where('status', '=', p.status!);
    if (shape.priority) q = q.where('priority', '=', p.priority!);
    if (shape.assigned_to) q = q.where('assigned_to', '=', p.assigned_to!);
    if (shape.customer_email) q = q.where('customer_email', '=', p.customer_email!);
    if (shape.created_after) q = q.where('created_at', '>', p.created_after!);
    if (shape.created_before) q = q.where('created_at', '<', p.created_before!);
    if (shape.tag) q = q.where('id', 'in', (eb) => eb.selectFrom('ticket_tags').select('ticket_id').where('tag', '=', p.tag!));
    if (shape.beforeId) q = q.where('id', '<', p.beforeId!);
    return q.orderBy('id', 'desc').limit(p.limit);
  });
}

/** Prepared list queries by the shape of their filters; a token with many brands makes its own each time. */
const listQueries = new Map<string, ReturnType<typeof listQueryFor>>();
const MAX_PREPARED_BRANDS = 16;

/** Newest first, by id (ids sort by creation time). One query, whatever the filters. */
export async function listTickets(db: DbOrTx, f: TicketListFilters): Promise<TicketRow[]> {
  const brands = f.brandIds?.length;
  const shape = [
    brands ?? '*',
    ...(['status', 'priority', 'assigned_to', 'customer_email', 'created_after', 'created_before', 'tag', 'beforeId'] as const).map((k) => (f[k] ? 1 : 0)),
  ].join('');
  let query = brands !== undefined && brands > MAX_PREPARED_BRANDS ? undefined : listQueries.get(shape);
  if (!query) {
    query = listQueryFor(f);
    if (brands === undefined || brands <= MAX_PREPARED_BRANDS) listQueries.set(shape, query);
  }
  return query.all(db, { ...f, brandIds: f.brandIds ?? [] });
}

export async function insertMessage(db: DbOrTx, row: Insertable<MessageTable>): Promise<void> {
  await db.insertInto('messages').values(row).execute();
}

const messagesOfTicket = prepareQuery((db, p: { ticketId: string }) =>
  db.selectFrom('messages').selectAll().where('ticket_id', '=', p.ticketId).orderBy('created_at').orderBy('id'),
);

/** Chronological: by created_at (imports may be back-dated), then id. */
export async function listMessages(db: DbOrTx, ticketId: string, page?: { after?: [string, string] | undefined; limit: number }): Promise<MessageRow[]> {
  if (!page) return messagesOfTicket.all(db, { ticketId });
  let q = db.selectFrom('messages').selectAll().where('ticket_id', '=', ticketId);
  if (page?.after) {
    const [at, id] = page.after;
    q = q.where((eb) => eb.or([eb('created_at', '>', at), eb.and([eb('created_at', '=', at), eb('id', '>', id)])]));
  }
  return q.orderBy('created_at').orderBy('id').limit(page.limit).execute();
}

export async function insertAuditEntry(db: DbOrTx, row: Insertable<AuditEntryTable>): Promise<void> {
  await db.insertInto('audit_entries').values(row).execute();
}

const auditOfTicket = prepareQuery((db, p: { ticketId: string }) =>
  db.selectFrom('audit_entries').selectAll().where('ticket_id', '=', p.ticketId).orderBy('id'),
);

export async function listAuditEntries(db: DbOrTx, ticketId: string, page?: { afterId?: string | undefined; limit: number }): Promise<AuditEntryRow[]> {
  if (!page) return auditOfTicket.all(db, { ticketId });
  let q = db.selectFrom('audit_entries').selectAll().where('ticket_id', '=', ticketId);
  if (page.afterId) q = q.where('id', '>', page.afterId);
  return q.orderBy('id').limit(page.limit).execute();
}

/** Snoozed tickets whose snooze has run out, oldest deadline first. */
export async function listSnoozedDue(db: DbOrTx, now: string, limit: number): Promise<TicketRow[]> {
  return db
    .selectFrom('tickets')
    .selectAll()
    .where('status', '=', 'snoozed')
    .where('snoozed_until', 'is not', null)
    .where('snoozed_until', '<=', now)
    .orderBy('snoozed_until')
    .limit(limit)
    .execute();
}

/**
 * Moves a ticket's conversation into another: its messages, and the attachments linked to them
 * (which name their ticket too). Returns how many messages moved.
 */
export async function moveConversation(db: DbOrTx, fromTicketId: string, toTicketId: string): Promise<number> {
  const moved = await db.updateTable('messages').set({ ticket_id: toTicketId }).where('ticket_id', '=', fromTicketId).executeTakeFirst();
  await db.updateTable('attachments').set({ ticket_id: toTicketId }).where('ticket_id', '=', fromTicketId).execute();
  return Number(moved.numUpdatedRows);
}
