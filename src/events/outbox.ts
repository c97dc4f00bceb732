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

/** An event to record: what happened, to which brand and ticket, and when. */
export interface NewEvent {
  type: TicketEventType;
  brand_id: string | null;
  ticket_id: string | null;
  data: unknown;
  at: Date;
  created_at: string;
}

/**
 * Writes an event to the outbox. Callers pass the transaction of the change the event describes,
 * so the event exists exactly when the change does; the webhook dispatcher delivers from here, by
 * way of the event_dispatch_queue row written beside it.
 */
export async function recordEvent(db: DbOrTx, event: NewEvent): Promise<EventRow> {
  return (await recordEvents(db, [event]))[0]!;
}

/** Writes the events of one change to the outbox, as `recordEvent` does each, in as few statements as the database allows. */
export async function recordEvents(db: DbOrTx, events: readonly NewEvent[]): Promise<EventRow[]> {
  const rows = events.map(
    (event): EventRow => ({
      id: newId('evt', event.at.getTime()),
      type: event.type,
      brand_id: event.brand_id,
      ticket_id: event.ticket_id,
      data: toJsonText(event.data),
      created_at: event.created_at,
    }),
  );
  // Marks the events for webhook fan-out in the same transaction: committed together or not at all.
  // Unmarked (no endpoint is enabled), they give a dispatcher nothing to do: no wake-up.
  if (await store.insertEventsForDispatch(db, rows)) signalDispatchWork();
  return rows;
}
