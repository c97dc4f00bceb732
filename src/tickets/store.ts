import type { Insertable } from 'kysely';
import type { AuditEntryRow, AuditEntryTable, DbOrTx, MessageRow, MessageTable, NewTicketRow, TicketRow, TicketRowUpdate } from '../db/schema.js';
import { dialectOf } from '../db/dialect-of.js';
import { inlinedOnSqlite, preparedForRows, preparedInsert, preparedPerLength, prepareQuery, sendWrite, slotList } from '../db/prepared.js';
import { messagePreview } from '../shared/message-preview.js';
import { viewCountsChanged } from '../views/count-store.js';
import { type TicketCountFilters, ticketCountsChanged } from './count-store.js';

/**
 * The place of a write in update order (migration 0012): the next `ticket_change_seq`, whose row
 * lock the write then holds until it commits, so numbers follow commit order; and the
 * `updated_at` to store, never earlier than any ticket's, so that (updated_at, change_seq) only
 * grows. A clock read before the transaction can lag one that committed first, by the time spent
 * waiting for the lock; a stamp further behind than `MAX_STAMP_LAG_MS` is taken as deliberate
 * (an import keeping its original time) and kept.
 */
async function nextChange(db: DbOrTx, updatedAt: string, changeSeq: Promise<number>): Promise<{ change_seq: number; updated_at: string }> {
  // Started after the statement that takes the sequence's lock, so it reads once that is held;
  // in a unit on PostgreSQL both travel in one round trip (`ahead`).
  const latest = latestUpdate.ahead(db, {});
  const seq = await changeSeq;
  const last = (await latest)[0]?.updated_at;
  const lagging = last !== undefined && last !== null && last > updatedAt && Date.parse(last) - Date.parse(updatedAt) <= MAX_STAMP_LAG_MS;
  return { change_seq: seq, updated_at: lagging ? last : updatedAt };
}

const MAX_STAMP_LAG_MS = 60_000;

/**
 * Takes the change sequence's row lock, which every ticket write takes (`nextChange`), for the rest
 * of the transaction without moving it (PostgreSQL; SQLite's one writer is ordered already). A
 * transaction that writes several tickets takes it first, before any ticket's own lock, so that it
 * never holds one while it waits for the sequence (src/db/transactions.ts, groupCommit).
 */
export async function takeWriteOrder(db: DbOrTx): Promise<void> {
  if (dialectOf(db) !== 'postgres') return;
  await db.selectFrom('sequences').select('value').where('name', '=', 'ticket_change_seq').forUpdate().execute();
}

const latestUpdate = prepareQuery((db) => db.selectFrom('tickets').select('updated_at').orderBy('updated_at', 'desc').limit(1));
const nextChangeSeq = prepareQuery((db) =>
  db
    .updateTable('sequences')
    .set((eb) => ({ value: eb('value', '+', 1) }))
    .where('name', '=', 'ticket_change_seq')
    .returning('value'),
);
/**
 * A create's two numbers in one statement: its arrival number (`ticket_queue_seq`) and its place in
 * update order (`ticket_change_seq`). On PostgreSQL it takes both rows' locks, as the two
 * statements it replaces did one after the other.
 */
const nextCreateSeqs = prepareQuery((db) =>
  db
    .updateTable('sequences')
    .set((eb) => ({ value: eb('value', '+', 1) }))
    .where('name', 'in', ['ticket_queue_seq', 'ticket_change_seq'])
    .returning(['name', 'value']),
);
const insertTicketRow = preparedInsert('tickets');
const insertTags = preparedForRows(['ticket_id', 'tag'], (db, rows: { ticket_id: string; tag: string }[]) => db.insertInto('ticket_tags').values(rows));

/** Inserts a ticket with the next arrival number (its queue's tree counts it by trigger, migration 0025). */
export async function insertTicket(db: DbOrTx, fields: Omit<NewTicketRow, 'queue_seq' | 'change_seq'>, tags: string[]): Promise<TicketRow> {
  const seqs = nextCreateSeqs.ahead(db, {});
  const seqOf = (rows: Awaited<typeof seqs>, name: string) => Number(rows.find((s) => s.name === name)!.value);
  const change = await nextChange(
    db,
    fields.updated_at,
    seqs.then((rows) => seqOf(rows, 'ticket_change_seq')),
  );
  const row = { ...fields, queue_seq: seqOf(await seqs, 'ticket_queue_seq'), ...change } as TicketRow;
  await insertTicketRow(db, row);
  await insertTags(
    db,
    tags.map((tag) => ({ ticket_id: row.id, tag })),
  );
  await ticketCountsChanged(db, undefined, row);
  await viewCountsChanged(db, undefined, row);
  return row;
}

const ticketById = prepareQuery((db, p: { id: string }) => db.selectFrom('tickets').selectAll().where('id', '=', p.id));

/**
 * Takes the ticket's row lock for the rest of the transaction on PostgreSQL: a no-op write. SQLite's
 * one writer holds its lock from the transaction's start, and a write there would count as the
 * unit having written (src/db/transactions.ts, WriteProbe): an update refused after it (a stale
 * If-Match) would roll back its whole batch.
 */
export async function lockTicket(db: DbOrTx, id: string): Promise<void> {
  if (dialectOf(db) !== 'postgres') return;
  // Sent in a unit (`send`): the read that follows it waits for the lock, in the same round trip.
  await lockTicketRow.send(db, { id });
}

const lockTicketRow = prepareQuery((db, p: { id: string }) =>
  db
    .updateTable('tickets')
    .set((eb) => ({ version: eb.ref('version') }))
    .where('id', '=', p.id),
);

export async function findTicket(db: DbOrTx, id: string): Promise<TicketRow | undefined> {
  return ticketById.first(db, { id });
}

const ticketsByIds = preparedPerLength((n) =>
  prepareQuery((qb, p: { ids: string[] }) => qb.selectFrom('tickets').selectAll().where('id', 'in', slotList(p.ids, n))),
);

/** The tickets of these ids, in no particular order; ids of no ticket are left out. */
export async function findTickets(db: DbOrTx, ids: readonly string[]): Promise<TicketRow[]> {
  if (ids.length === 0) return [];
  return ticketsByIds(ids.length).all(db, { ids: [...ids] });
}

/**
 * Writes `set` over the ticket `before` (as read in the same transaction) and moves its counters.
 * Its queue's tree follows by trigger (migration 0025). Returns the row as it now is.
 */
export async function updateTicket(db: DbOrTx, before: TicketRow, set: TicketRowUpdate, tags?: string[]): Promise<TicketRow> {
  const id = before.id;
  if (set.updated_at !== undefined) {
    const seq = nextChangeSeq.ahead(db, {}).then((rows) => Number(rows[0]!.value));
    set = { ...set, ...(await nextChange(db, set.updated_at, seq)) };
  }
  const after = { ...before, ...set } as TicketRow;
  await sendWrite(db, db.updateTable('tickets').set(set).where('id', '=', id).compile());
  await ticketCountsChanged(db, before, after);
  await viewCountsChanged(db, before, after);
  if (tags) {
    await sendWrite(db, db.deleteFrom('ticket_tags').where('ticket_id', '=', id).compile());
    await insertTags(
      db,
      tags.map((tag) => ({ ticket_id: id, tag })),
    );
  }
  return after;
}

/** The orders of a ticket list: `id_desc` (newest first, the default) or a `sort` of the API. */
export type TicketOrder = 'id_desc' | 'created_at' | '-created_at' | 'updated_at' | '-updated_at';

/** Where the previous page ended: its last row's sort key and id (change_seq only in update order). */
export interface TicketListPosition {
  id: string;
  at?: string | undefined;
  changeSeq?: number | undefined;
}

/** The ticket list's filters, with its order and page. */
export interface TicketListFilters extends TicketCountFilters {
  order: TicketOrder;
  /** The keyset that keeps pages stable while tickets are added and changed. */
  after?: TicketListPosition | undefined;
  limit: number;
}

interface ListParams {
  brandIds: string[];
  statuses: string[];
  priority: string;
  assigned_to: string;
  tagsAll: string[];
  tagsAny: string[];
  customer_email: string;
  created_after: string;
  created_before: string;
  updated_after: string;
  updated_before: string;
  afterId: string;
  afterAt: string;
  afterSeq: number;
  limit: number;
  [key: string]: unknown;
}

/** How many values each list filter holds, and which others are set: what a prepared query is built for. */
interface ListShape {
  brands: number | undefined;
  statuses: number;
  tagsAll: number;
  tagsAny: number;
  unassigned: boolean | undefined;
  set: Record<'priority' | 'assigned_to' | 'customer_email' | 'created_after' | 'created_before' | 'updated_after' | 'updated_before' | 'after', boolean>;
  order: TicketOrder;
  /** Whole rows, or only what places a row in the list and says whether a cached item is current. */
  columns: 'rows' | 'keys';
}

/**
 * What a list reads of each ticket when its items come from a cache: the id, the version and the
 * keys of the list's order (set only for an order that sorts by them). Newest first needs only
 * the id and the version, which `tickets_brand_status_list` holds: the inbox query
 * (`?brand_id=…&status=…`) then reads its index alone, not each listed ticket's row too.
 */
export type TicketListKey = Pick<TicketRow, 'id' | 'version'> & Partial<Pick<TicketRow, 'created_at' | 'updated_at' | 'change_seq'>>;
const listKeyColumns = (order: TicketOrder) =>
  order === 'id_desc'
    ? (['id', 'version'] as const)
    : order === 'created_at' || order === '-created_at'
      ? (['id', 'version', 'created_at'] as const)
      : (['id', 'version', 'updated_at', 'change_seq'] as const);

/** The list query for one shape of filters and one order: built once each. */
function listQueryFor(shape: ListShape) {
  return prepareQuery((db, p: ListParams) => {
    let q = shape.columns === 'keys' ? db.selectFrom('tickets').select(listKeyColumns(shape.order)) : db.selectFrom('tickets').selectAll();
    if (shape.brands !== undefined) q = shape.brands ? q.where('brand_id', 'in', slotList(p.brandIds, shape.brands)) : q.where('id', '=', '');
    if (shape.statuses === 1) q = q.where('status', '=', inlinedOnSqlite(slotList(p.statuses, 1)[0]!));
    else if (shape.statuses > 1) q = q.where('status', 'in', slotList(p.statuses, shape.statuses));
    if (shape.set.priority) q = q.where('priority', '=', p.priority);
    if (shape.set.assigned_to) q = q.where('assigned_to', '=', p.assigned_to);
    if (shape.unassigned !== undefined) q = q.where('assigned_to', shape.unassigned ? 'is' : 'is not', null);
    if (shape.set.customer_email) q = q.where('customer_email', '=', p.customer_email);
    if (shape.set.created_after) q = q.where('created_at', '>', p.created_after);
    if (shape.set.created_before) q = q.where('created_at', '<', p.created_before);
    if (shape.set.updated_after) q = q.where('updated_at', '>', p.updated_after);
    if (shape.set.updated_before) q = q.where('updated_at', '<', p.updated_before);
    for (const tag of slotList(p.tagsAll, shape.tagsAll)) {
      q = q.where('id', 'in', (eb) => eb.selectFrom('ticket_tags').select('ticket_id').where('tag', '=', tag));
    }
    if (shape.tagsAny) {
      const anyOf = slotList(p.tagsAny, shape.tagsAny);
      q = q.where('id', 'in', (eb) => eb.selectFrom('ticket_tags').select('ticket_id').where('tag', 'in', anyOf));
    }
    switch (shape.order) {
      case 'id_desc':
        if (shape.set.after) q = q.where('id', '<', p.afterId);
        return q.orderBy('id', 'desc').limit(inlinedOnSqlite(p.limit));
      case 'created_at':
      case '-created_at': {
        const dir = shape.order === 'created_at' ? 'asc' : 'desc';
        if (shape.set.after) q = q.where((eb) => eb(eb.refTuple('created_at', 'id'), dir === 'asc' ? '>' : '<', eb.tuple(p.afterAt, p.afterId)));
        return q.orderBy('created_at', dir).orderBy('id', dir).limit(inlinedOnSqlite(p.limit));
      }
      case 'updated_at':
      case '-updated_at': {
        const dir = shape.order === 'updated_at' ? 'asc' : 'desc';
        if (shape.set.after)
          q = q.where((eb) => eb(eb.refTuple('updated_at', 'change_seq', 'id'), dir === 'asc' ? '>' : '<', eb.tuple(p.afterAt, p.afterSeq, p.afterId)));
        return q.orderBy('updated_at', dir).orderBy('change_seq', dir).orderBy('id', dir).limit(inlinedOnSqlite(p.limit));
      }
    }
  });
}

/** Prepared list queries by shape; a token with many brands, or a filter with many values, makes its own each time. */
const listQueries = new Map<string, ReturnType<typeof listQueryFor>>();
const MAX_PREPARED_VALUES = 16;

/**
 * One page of tickets in `order`, from after `f.after`; one query whatever the filters. Without a
 * sort, newest first by id (ids sort by creation time); in update order, by (updated_at,
 * change_seq, id), so that a ticket written during a walk moves past every row already read.
 */
export async function listTickets(db: DbOrTx, f: TicketListFilters): Promise<TicketRow[]> {
  return (await listQuery(db, f, 'rows')) as TicketRow[];
}

/** The same page as `listTickets`, only each ticket's `TicketListKey`: for a list whose items are cached. */
export async function listTicketKeys(db: DbOrTx, f: TicketListFilters): Promise<TicketListKey[]> {
  return listQuery(db, f, 'keys');
}

async function listQuery(db: DbOrTx, f: TicketListFilters, columns: ListShape['columns']): Promise<TicketListKey[]> {
  const shape: ListShape = {
    brands: f.brandIds?.length,
    statuses: f.statuses?.length ?? 0,
    tagsAll: f.tagsAll?.length ?? 0,
    tagsAny: f.tagsAny?.length ?? 0,
    unassigned: f.unassigned,
    set: {
      priority: !!f.priority,
      assigned_to: !!f.assigned_to,
      customer_email: !!f.customer_email,
      created_after: !!f.created_after,
      created_before: !!f.created_before,
      updated_after: !!f.updated_after,
      updated_before: !!f.updated_before,
      after: !!f.after,
    },
    order: f.order,
    columns,
  };
  // Past the first page the cursor is the tighter bound on the sort key: leaving the filter on it
  // in the query would have SQLite's plan range over the filter and walk every row already read.
  if (f.after && f.order === 'updated_at') shape.set.updated_after = false;
  if (f.after && f.order === '-updated_at') shape.set.updated_before = false;
  if (f.after && f.order === 'created_at') shape.set.created_after = false;
  if (f.after && f.order === '-created_at') shape.set.created_before = false;
  const key = `${shape.brands ?? '*'}/${shape.statuses}/${shape.unassigned ?? '-'}/${shape.tagsAll}/${shape.tagsAny}/${Object.values(shape.set)
    .map((x) => (x ? 1 : 0))
    .join('')}/${shape.order}/${shape.columns}`;
  const cacheable = Math.max(shape.brands ?? 0, shape.statuses, shape.tagsAll, shape.tagsAny) <= MAX_PREPARED_VALUES;
  let query = cacheable ? listQueries.get(key) : undefined;
  if (!query) {
    query = listQueryFor(shape);
    if (cacheable) listQueries.set(key, query);
  }
  return query.all(db, {
    brandIds: f.brandIds ?? [],
    statuses: f.statuses ?? [],
    priority: f.priority ?? '',
    assigned_to: f.assigned_to ?? '',
    tagsAll: f.tagsAll ?? [],
    tagsAny: f.tagsAny ?? [],
    customer_email: f.customer_email ?? '',
    created_after: f.created_after ?? '',
    created_before: f.created_before ?? '',
    updated_after: f.updated_after ?? '',
    updated_before: f.updated_before ?? '',
    afterId: f.after?.id ?? '',
    afterAt: f.after?.at ?? '',
    afterSeq: f.after?.changeSeq ?? 0,
    limit: f.limit,
  });
}

const messageOfTicket = prepareQuery((db, p: { ticketId: string; id: string }) =>
  db.selectFrom('messages').selectAll().where('id', '=', p.id).where('ticket_id', '=', p.ticketId),
);

export async function findMessage(db: DbOrTx, ticketId: string, id: string): Promise<MessageRow | undefined> {
  return messageOfTicket.first(db, { ticketId, id });
}

const insertMessageRow = preparedInsert('messages');

export async function insertMessage(db: DbOrTx, row: Insertable<MessageTable>): Promise<void> {
  await insertMessageRow(db, row);
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

const latestShownBody = prepareQuery((db, p: { ticketId: string }) =>
  db
    .selectFrom('messages')
    .select('body')
    .where('ticket_id', '=', p.ticketId)
    .where('visibility', '<>', 'internal')
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1),
);

/**
 * The `last_message_preview` the ticket's conversation makes, as it is in this transaction: of its
 * latest message that is not an internal note (messages_ticket, read backwards), null when none.
 */
export async function lastMessagePreview(db: DbOrTx, ticketId: string): Promise<string | null> {
  const latest = await latestShownBody.first(db, { ticketId });
  return latest ? messagePreview(latest.body) : null;
}

const insertAuditRow = preparedInsert('audit_entries');

export async function insertAuditEntry(db: DbOrTx, row: Insertable<AuditEntryTable>): Promise<void> {
  await insertAuditRow(db, row);
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
 * Bumps the ticket's version (its ETag) for a change shown in its representation that is not a
 * change of its own fields: a message's delivery state. Cached details of the old version go stale.
 */
export async function bumpTicketVersion(db: DbOrTx, id: string): Promise<void> {
  await db
    .updateTable('tickets')
    .set((eb) => ({ version: eb('version', '+', 1) }))
    .where('id', '=', id)
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
