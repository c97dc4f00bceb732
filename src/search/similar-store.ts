/**
 * SQL of the similar-tickets lookup (similar.ts): the text a ticket is compared by, and its
 * search document's id (to leave the ticket itself out of its own neighbours).
 */
import type { DbOrTx } from '../db/schema.js';

/** The customer's first messages taken into the query besides subject and description. */
const FIRST_CUSTOMER_MESSAGES = 3;

/** What a ticket is about, as the customer put it: subject, description, then their first messages (oldest first). */
export async function customerTextOf(db: DbOrTx, ticketId: string): Promise<{ subject: string; description: string; messages: string[] } | undefined> {
  const ticket = await db.selectFrom('tickets').select(['subject', 'description']).where('id', '=', ticketId).executeTakeFirst();
  if (!ticket) return undefined;
  const messages = await db
    .selectFrom('messages')
    .select('body')
    .where('ticket_id', '=', ticketId)
    .where('author_type', '=', 'customer')
    .orderBy('created_at')
    .orderBy('id')
    .limit(FIRST_CUSTOMER_MESSAGES + 1)
    .execute();
  return { subject: ticket.subject, description: ticket.description, messages: messages.map((m) => m.body) };
}

/** The search document of a ticket; undefined when it is not indexed. */
export async function docIdOfTicket(db: DbOrTx, ticketId: string): Promise<number | undefined> {
  const row = await db.selectFrom('search_documents').select('doc_id').where('ticket_id', '=', ticketId).executeTakeFirst();
  return row ? Number(row.doc_id) : undefined;
}
