import type { DbOrTx, TicketRow } from '../db/schema.js';
import { type Actor, auditActorColumns } from '../auth/scopes.js';
import { type NewEvent, recordEvents } from '../events/outbox.js';
import { toTimestamp } from '../shared/clock.js';
import { newId } from '../shared/ids.js';
import { toJsonText } from '../shared/json.js';
import { type Changes, type MessageView, type TicketView, toTicketView } from './model.js';
import * as store from './store.js';

/**
 * Keeps derived indexes (search) in step with tickets. Called inside the transaction of the change,
 * so a ticket is searchable exactly when its change is committed.
 */
export interface TicketIndexer {
  /**
   * `what` says what changed: `text` (the default) for anything the search index holds text of,
   * `filters` when only fields that searches filter on changed (status, priority, assignee, queue,
   * snooze), whose document need not be embedded or tokenized again.
   */
  ticketChanged(trx: DbOrTx, ticketId: string, what?: 'text' | 'filters'): Promise<void>;
  /**
   * A ticket just inserted in `trx`, whose only message is its description: indexed from the row
   * itself, without reading back what the transaction just wrote. Absent: `ticketChanged`.
   */
  ticketCreated?(trx: DbOrTx, ticket: TicketRow): Promise<void>;
}

/** Fields a search filters on but never reads text from: a change of these alone reindexes no text. */
const FILTER_ONLY_FIELDS: ReadonlySet<string> = new Set(['status', 'priority', 'assigned_to', 'snoozed_until', 'queue_id']);

interface ChangeOf {
  /** The ticket as it is after the change. */
  ticket: TicketRow;
  actor: Actor;
  /** The ticket fields that changed; empty for a message that changed none. */
  changes: Changes;
  at: Date;
}

/**
 * A change to a ticket, by its audit action; a message carries the message it added. `ticket.created`
 * is recorded right after the insert of the ticket and its first message (the description), and
 * nothing else: the search index takes its text from the row.
 */
export type TicketChange =
  | (ChangeOf & { action: 'ticket.created' | 'ticket.updated' | 'ticket.woke_up' })
  /** A merge, on each side: the source carries `into` (the target as it is after), and gets the ticket.merged event. */
  | (ChangeOf & { action: 'ticket.merged'; into?: TicketRow | undefined })
  | (ChangeOf & { action: 'message.created'; message: MessageView });

/**
 * Everything a ticket write records beside the ticket's row, in the caller's transaction so that
 * they commit with it or not at all: the audit entry, the outbox events and the search index.
 *
 * Events: `ticket.created` for a new ticket; `ticket.message_created` for a message; and for any
 * other change of fields (a message's included), `ticket.updated` with every change, plus
 * `ticket.status_changed` and `ticket.assigned` when those fields are among them.
 */
export async function recordChange(trx: DbOrTx, indexer: TicketIndexer | undefined, change: TicketChange): Promise<void> {
  const { ticket: row, actor, changes, at } = change;
  const createdAt = toTimestamp(at);
  await store.insertAuditEntry(trx, {
    id: newId('aud', at.getTime()),
    ticket_id: row.id,
    ...auditActorColumns(actor),
    action: change.action,
    changes: toJsonText(change.action === 'message.created' ? { message_id: { from: null, to: change.message.id }, ...changes } : changes),
    created_at: createdAt,
  });
  const ticket = toTicketView(row);
  const about = { brand_id: row.brand_id, ticket_id: row.id, at, created_at: createdAt };
  const events: NewEvent[] = [];
  if (change.action === 'ticket.created') {
    events.push({ ...about, type: 'ticket.created', data: { ticket } });
  } else {
    if (change.action === 'message.created') {
      events.push({ ...about, type: 'ticket.message_created', data: { ticket, message: change.message } });
    }
    if (change.action === 'ticket.merged' && change.into) {
      events.push({ ...about, type: 'ticket.merged', data: { ticket, into: toTicketView(change.into) } });
    }
    if (Object.keys(changes).length) events.push(...updateEvents(about, ticket, changes));
  }
  await recordEvents(trx, events);
  if (change.action === 'ticket.created' && indexer?.ticketCreated) {
    await indexer.ticketCreated(trx, row);
    return;
  }
  const filtersOnly =
    (change.action === 'ticket.updated' || change.action === 'ticket.woke_up') && Object.keys(changes).every((field) => FILTER_ONLY_FIELDS.has(field));
  await indexer?.ticketChanged(trx, row.id, filtersOnly ? 'filters' : 'text');
}

/** Events of a change of fields: one ticket.updated with every change, plus the specific ones. */
function updateEvents(about: { brand_id: string; ticket_id: string; at: Date; created_at: string }, ticket: TicketView, changes: Changes): NewEvent[] {
  const events: NewEvent[] = [{ ...about, type: 'ticket.updated', data: { ticket, changes } }];
  if (changes.status) {
    events.push({ ...about, type: 'ticket.status_changed', data: { ticket, changes: { status: changes.status } } });
  }
  if (changes.assigned_to) {
    events.push({ ...about, type: 'ticket.assigned', data: { ticket, changes: { assigned_to: changes.assigned_to } } });
  }
  return events;
}
