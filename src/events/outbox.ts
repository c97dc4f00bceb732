import type { DbOrTx, EventRow } from '../db/schema.js';
import { newId } from '../shared/ids.js';
import { toJsonText } from '../shared/json.js';
import { signalDispatchWork } from './signal.js';
import * as store from './store.js';

export const TICKET_EVENT_TYPES = [
  'ticket.created',
  'ticket.updated',
  'ticket.status_changed',
  'ticket.assigned',
  'ticket.message_created',
  'ticket.message_delivery_failed',
  'ticket.merged',
  'customer.erased',
] as const;
export type TicketEventType = (typeof TICKET_EVENT_TYPES)[number];

/** Sent to one endpoint on request; not part of the ticket event log. */
export const TEST_EVENT_TYPE = 'webhook.test';

/**
 * Writes an event to the outbox. Callers pass the transaction of the change the event describes,
 * so the event exists exactly when the change does; the webhook dispatcher delivers from here, by
 * way of the event_dispatch_queue row written beside it.
 */
export async function recordEvent(
  db: DbOrTx,
  event: { type: TicketEventType; brand_id: string | null; ticket_id: string | null; data: unknown; at: Date; created_at: string },
): Promise<EventRow> {
  const row: EventRow = {
    id: newId('evt', event.at.getTime()),
    type: event.type,
    brand_id: event.brand_id,
    ticket_id: event.ticket_id,
    data: toJsonText(event.data),
    created_at: event.created_at,
  };
  await store.insertEvent(db, row);
  // Marks the event for webhook fan-out in the same transaction: committed together or not at all.
  // Unmarked (no endpoint is enabled), it gives a dispatcher nothing to do: no wake-up.
  if (await store.queueForDispatch(db, row)) signalDispatchWork();
  return row;
}
