import type { AttachmentRow, AuditEntryRow, BrandRow, DbOrTx, MessageRow, TicketRow } from '../db/schema.js';

/*
 * The reads of an export: a keyset page of tickets, then everything that hangs off that page in one
 * query per table. Each call returns at most a page's worth of rows (and what those tickets own),
 * so an export's memory does not grow with the database.
 */

export interface ExportFilter {
  /** null: every brand. */
  brandIds: string[] | null;
  /** Only tickets updated at or after this instant (wire format). */
  since?: string | undefined;
}

function filtered(db: DbOrTx, f: ExportFilter) {
  let q = db.selectFrom('tickets');
  if (f.brandIds !== null) q = f.brandIds.length ? q.where('brand_id', 'in', f.brandIds) : q.where('id', '=', '');
  if (f.since) q = q.where('updated_at', '>=', f.since);
  return q;
}

/** Tickets in id order (creation order), after `afterId`: the next page of an export. */
export async function listTicketPage(db: DbOrTx, f: ExportFilter & { afterId?: string | undefined; limit: number }): Promise<TicketRow[]> {
  let q = filtered(db, f).selectAll();
  if (f.afterId) q = q.where('id', '>', f.afterId);
  return q.orderBy('id').limit(f.limit).execute();
}

/** How many tickets an export will write: read once, for the progress bar. */
export async function countTickets(db: DbOrTx, f: ExportFilter): Promise<number> {
  const row = await filtered(db, f)
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function listMessagesOf(db: DbOrTx, ticketIds: string[]): Promise<MessageRow[]> {
  if (ticketIds.length === 0) return [];
  return db.selectFrom('messages').selectAll().where('ticket_id', 'in', ticketIds).orderBy('ticket_id').orderBy('created_at').orderBy('id').execute();
}

export async function listAuditEntriesOf(db: DbOrTx, ticketIds: string[]): Promise<AuditEntryRow[]> {
  if (ticketIds.length === 0) return [];
  return db.selectFrom('audit_entries').selectAll().where('ticket_id', 'in', ticketIds).orderBy('ticket_id').orderBy('id').execute();
}

/** The attachments linked to these messages (by the message index), in id order. */
export async function listAttachmentsOf(db: DbOrTx, messageIds: string[]): Promise<AttachmentRow[]> {
  if (messageIds.length === 0) return [];
  return db.selectFrom('attachments').selectAll().where('message_id', 'in', messageIds).orderBy('id').execute();
}

export async function listBrandNames(db: DbOrTx): Promise<Pick<BrandRow, 'id' | 'name'>[]> {
  return db.selectFrom('brands').select(['id', 'name']).execute();
}
