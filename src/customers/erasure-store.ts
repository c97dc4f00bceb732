import { type Expression, type SqlBool, sql } from 'kysely';
import type {
  AttachmentRow,
  AuditEntryRow,
  DbOrTx,
  EventRow,
  InboundEmailTable,
  MessageRow,
  MessageTable,
  TicketRow,
  WebhookAttemptRow,
} from '../db/schema.js';
import type { Selectable, Updateable } from 'kysely';

/*
 * The reads and writes of a customer erasure (erasure.ts). The reads are scans of one brand's rows
 * filtered by LIKE over lower-cased text: erasure is rare, and a mention of an address inside a
 * body has no index to find it by (docs/api.md#erasing-a-customer gives the cost).
 */

/** `lower(column) like p` for any of the patterns (already lower-cased and LIKE-escaped). */
function likeAny(column: string, patterns: readonly string[]): Expression<SqlBool> {
  if (patterns.length === 0) return sql<SqlBool>`1 = 0`;
  return sql<SqlBool>`(${sql.join(
    patterns.map((p) => sql`lower(${sql.ref(column)}) like ${p} escape '\\'`),
    sql` or `,
  )})`;
}

const anyColumn = (columns: readonly string[], patterns: readonly string[]): Expression<SqlBool> =>
  sql<SqlBool>`(${sql.join(
    columns.map((c) => likeAny(c, patterns)),
    sql` or `,
  )})`;

const chunks = <T>(items: readonly T[], size = 500): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};

/** The brand's tickets of this customer (tickets_customer_id), and the others whose own fields match. */
export async function findTickets(db: DbOrTx, brandId: string, email: string, patterns: readonly string[]): Promise<TicketRow[]> {
  return db
    .selectFrom('tickets')
    .selectAll()
    .where('brand_id', '=', brandId)
    .where((eb) =>
      eb.or([eb('customer_email', '=', email), anyColumn(['subject', 'description', 'metadata', 'customer_name', 'last_message_preview'], patterns)]),
    )
    .orderBy('id')
    .execute();
}

/** Messages of the brand's tickets written by the address, or whose fields match. */
export async function findMessages(db: DbOrTx, brandId: string, email: string, patterns: readonly string[]): Promise<MessageRow[]> {
  return db
    .selectFrom('messages')
    .innerJoin('tickets', 'tickets.id', 'messages.ticket_id')
    .selectAll('messages')
    .where('tickets.brand_id', '=', brandId)
    .where((eb) =>
      eb.or([
        eb('messages.author_email', '=', email),
        anyColumn(['messages.author_name', 'messages.body', 'messages.full_body', 'messages.cc', 'messages.delivery_last_error'], patterns),
      ]),
    )
    .orderBy('messages.id')
    .execute();
}

export async function findAuditEntries(db: DbOrTx, brandId: string, patterns: readonly string[]): Promise<AuditEntryRow[]> {
  return db
    .selectFrom('audit_entries')
    .innerJoin('tickets', 'tickets.id', 'audit_entries.ticket_id')
    .selectAll('audit_entries')
    .where('tickets.brand_id', '=', brandId)
    .where(anyColumn(['audit_entries.changes', 'audit_entries.actor_name'], patterns))
    .orderBy('audit_entries.id')
    .execute();
}

export async function findEvents(db: DbOrTx, brandId: string, patterns: readonly string[]): Promise<EventRow[]> {
  return db.selectFrom('events').selectAll().where('brand_id', '=', brandId).where(likeAny('data', patterns)).orderBy('id').execute();
}

/** Attempt records of the brand's events whose stored response or error matches (an endpoint may echo what it was sent). */
export async function findWebhookAttempts(
  db: DbOrTx,
  brandId: string,
  patterns: readonly string[],
): Promise<(WebhookAttemptRow & { ticket_id: string | null })[]> {
  return db
    .selectFrom('webhook_attempts')
    .innerJoin('webhook_deliveries', 'webhook_deliveries.id', 'webhook_attempts.delivery_id')
    .innerJoin('events', 'events.id', 'webhook_deliveries.event_id')
    .selectAll('webhook_attempts')
    .select('events.ticket_id')
    .where('events.brand_id', '=', brandId)
    .where(anyColumn(['webhook_attempts.response_body', 'webhook_attempts.error'], patterns))
    .orderBy('webhook_attempts.id')
    .execute();
}

export type InboundEmailRow = Selectable<InboundEmailTable>;

/** Received mail of the brand from the address (inbound_emails_sender), or whose reason names it. */
export async function findInboundEmails(db: DbOrTx, brandId: string, email: string, patterns: readonly string[]): Promise<InboundEmailRow[]> {
  return db
    .selectFrom('inbound_emails')
    .selectAll()
    .where('brand_id', '=', brandId)
    .where((eb) => eb.or([eb('sender', '=', email), likeAny('reason', patterns)]))
    .orderBy('id')
    .execute();
}

/** The attachments of these messages. */
export async function findAttachmentsOf(db: DbOrTx, messageIds: readonly string[]): Promise<AttachmentRow[]> {
  const out: AttachmentRow[] = [];
  for (const ids of chunks(messageIds)) out.push(...(await db.selectFrom('attachments').selectAll().where('message_id', 'in', ids).execute()));
  return out;
}

/** The brand's attachments whose file name matches. */
export async function findAttachmentsNamed(db: DbOrTx, brandId: string, patterns: readonly string[]): Promise<AttachmentRow[]> {
  return db.selectFrom('attachments').selectAll().where('brand_id', '=', brandId).where(likeAny('file_name', patterns)).execute();
}

export async function findMessagesByIds(db: DbOrTx, ids: readonly string[]): Promise<MessageRow[]> {
  const out: MessageRow[] = [];
  for (const batch of chunks(ids)) out.push(...(await db.selectFrom('messages').selectAll().where('id', 'in', batch).execute()));
  return out;
}

/** Messages of these tickets waiting in the e-mail outbox. */
export async function findOutboxOf(db: DbOrTx, ticketIds: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const ids of chunks(ticketIds)) {
    const rows = await db.selectFrom('email_outbox').select('message_id').where('ticket_id', 'in', ids).execute();
    out.push(...rows.map((r) => r.message_id));
  }
  return out;
}

/** A page of the responses kept for Idempotency-Key replays, after (token_id, key). */
export async function listKeptResponses(
  db: DbOrTx,
  after: { token_id: string; key: string } | undefined,
  limit: number,
): Promise<{ token_id: string; key: string; response_body: string | null }[]> {
  let q = db.selectFrom('idempotency_keys').select(['token_id', 'key', 'response_body']).where('state', '=', 'done');
  if (after) {
    const { token_id, key } = after;
    q = q.where((eb) => eb.or([eb('token_id', '>', token_id), eb.and([eb('token_id', '=', token_id), eb('key', '>', key)])]));
  }
  return q.orderBy('token_id').orderBy('key').limit(limit).execute();
}

export async function deleteKeptResponse(db: DbOrTx, tokenId: string, key: string): Promise<void> {
  await db.deleteFrom('idempotency_keys').where('token_id', '=', tokenId).where('key', '=', key).execute();
}

export async function updateMessage(db: DbOrTx, id: string, set: Updateable<MessageTable>): Promise<void> {
  await db.updateTable('messages').set(set).where('id', '=', id).execute();
}

export async function updateAuditEntry(db: DbOrTx, id: string, set: { actor_name?: string; changes?: string }): Promise<void> {
  await db.updateTable('audit_entries').set(set).where('id', '=', id).execute();
}

export async function updateEventData(db: DbOrTx, id: string, data: string): Promise<void> {
  await db.updateTable('events').set({ data }).where('id', '=', id).execute();
}

export async function updateWebhookAttempt(db: DbOrTx, id: string, set: { response_body?: string | null; error?: string | null }): Promise<void> {
  await db.updateTable('webhook_attempts').set(set).where('id', '=', id).execute();
}

export async function updateInboundEmail(db: DbOrTx, id: string, set: Updateable<InboundEmailTable>): Promise<void> {
  await db.updateTable('inbound_emails').set(set).where('id', '=', id).execute();
}

export async function deleteAttachments(db: DbOrTx, ids: readonly string[]): Promise<void> {
  for (const batch of chunks(ids)) await db.deleteFrom('attachments').where('id', 'in', batch).execute();
}

export async function deleteOutboxEntries(db: DbOrTx, messageIds: readonly string[]): Promise<void> {
  for (const batch of chunks(messageIds)) await db.deleteFrom('email_outbox').where('message_id', 'in', batch).execute();
}

/** Takes the customer's row lock for the rest of the transaction (PostgreSQL; SQLite has one writer): a no-op write. */
export async function lockCustomer(db: DbOrTx, id: string): Promise<void> {
  await db
    .updateTable('customers')
    .set((eb) => ({ updated_at: eb.ref('updated_at') }))
    .where('id', '=', id)
    .execute();
}
