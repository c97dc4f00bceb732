import type { Insertable, Updateable } from 'kysely';
import type { DbOrTx, EmailOutboxTable, InboundEmailTable, MessageRow, MessageTable } from '../db/schema.js';

export async function insertInboundEmail(db: DbOrTx, row: Insertable<InboundEmailTable>): Promise<void> {
  await db.insertInto('inbound_emails').values(row).execute();
}

/** The newest message of a ticket of `brandId` whose Message-ID is one of `ids`. */
export async function findMessageByEmailIds(db: DbOrTx, brandId: string, ids: readonly string[]): Promise<{ id: string; ticket_id: string } | undefined> {
  if (ids.length === 0) return undefined;
  return db
    .selectFrom('messages')
    .innerJoin('tickets', 'tickets.id', 'messages.ticket_id')
    .select(['messages.id', 'messages.ticket_id'])
    .where('messages.email_message_id', 'in', ids.slice(0, 100))
    .where('tickets.brand_id', '=', brandId)
    .orderBy('messages.created_at', 'desc')
    .orderBy('messages.id', 'desc')
    .executeTakeFirst();
}

/** How many mails from `sender` became tickets or messages since `since`. */
export async function countAcceptedFromSender(db: DbOrTx, sender: string, since: string): Promise<number> {
  const row = await db
    .selectFrom('inbound_emails')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('sender', '=', sender)
    .where('received_at', '>', since)
    .where('outcome', 'in', ['ticket_created', 'message_added'])
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Our e-mailed messages among those with these Message-IDs. */
export async function findMailedMessages(db: DbOrTx, ids: readonly string[]): Promise<MessageRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('messages').selectAll().where('email_message_id', 'in', ids.slice(0, 100)).where('delivery_status', 'is not', null).execute();
}

export async function findMessage(db: DbOrTx, id: string): Promise<MessageRow | undefined> {
  return db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The Message-IDs of a ticket's messages, oldest first: the References of a reply. */
export async function listThreadIds(db: DbOrTx, ticketId: string): Promise<{ id: string; email_message_id: string; author_type: string }[]> {
  const rows = await db
    .selectFrom('messages')
    .select(['id', 'email_message_id', 'author_type'])
    .where('ticket_id', '=', ticketId)
    .where('email_message_id', 'is not', null)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map((r) => ({ id: r.id, email_message_id: r.email_message_id!, author_type: r.author_type }));
}

export async function updateMessageDelivery(db: DbOrTx, id: string, set: Updateable<MessageTable>): Promise<void> {
  await db.updateTable('messages').set(set).where('id', '=', id).execute();
}

export async function insertOutboxEntry(db: DbOrTx, row: Insertable<EmailOutboxTable>): Promise<void> {
  await db.insertInto('email_outbox').values(row).execute();
}

/**
 * Claims up to `limit` due entries for `leaseUntil`: each by a conditional update, so that of
 * several senders (processes) on one database exactly one gets each entry.
 */
export async function claimDueOutbox(db: DbOrTx, f: { now: string; leaseUntil: string; limit: number }): Promise<string[]> {
  const due = await db
    .selectFrom('email_outbox')
    .select('message_id')
    .where('next_attempt_at', '<=', f.now)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', f.now)]))
    .orderBy('next_attempt_at')
    .limit(f.limit)
    .execute();
  const claimed: string[] = [];
  for (const { message_id } of due) {
    const result = await db
      .updateTable('email_outbox')
      .set({ locked_until: f.leaseUntil })
      .where('message_id', '=', message_id)
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', f.now)]))
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 1) claimed.push(message_id);
  }
  return claimed;
}

export async function rescheduleOutboxEntry(db: DbOrTx, messageId: string, nextAttemptAt: string): Promise<void> {
  await db.updateTable('email_outbox').set({ next_attempt_at: nextAttemptAt, locked_until: null }).where('message_id', '=', messageId).execute();
}

export async function deleteOutboxEntry(db: DbOrTx, messageId: string): Promise<void> {
  await db.deleteFrom('email_outbox').where('message_id', '=', messageId).execute();
}
