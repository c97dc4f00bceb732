import type { DbOrTx, MessageRow } from '../db/schema.js';
import { recordEvent } from '../events/outbox.js';
import { toTimestamp } from '../shared/clock.js';
import { toMessageView, toTicketView } from '../tickets/model.js';
import type { MessageAttachments } from '../tickets/service.js';
import * as ticketStore from '../tickets/store.js';
import * as store from './store.js';

/**
 * Records what became of a message's mail, in the caller's transaction: its delivery fields, a new
 * ticket version (the message's representation changed), and for a failure the
 * `ticket.message_delivery_failed` event.
 */
export async function recordDelivery(
  trx: DbOrTx,
  attachments: MessageAttachments,
  message: MessageRow,
  outcome: { status: 'queued' | 'sent' | 'failed'; attempts: number; last_error: string | null; at: Date },
): Promise<void> {
  const set = { delivery_status: outcome.status, delivery_attempts: outcome.attempts, delivery_last_error: outcome.last_error };
  await store.updateMessageDelivery(trx, message.id, set);
  await ticketStore.bumpTicketVersion(trx, message.ticket_id);
  if (outcome.status !== 'failed') return;
  const ticket = await ticketStore.findTicket(trx, message.ticket_id);
  if (!ticket) return;
  const linked = await attachments.listFor(trx, [message.id]);
  await recordEvent(trx, {
    type: 'ticket.message_delivery_failed',
    brand_id: ticket.brand_id,
    ticket_id: ticket.id,
    data: { ticket: toTicketView(ticket), message: toMessageView({ ...message, ...set }, linked.get(message.id) ?? []) },
    at: outcome.at,
    created_at: toTimestamp(outcome.at),
  });
}
