import { Type, type TSchema } from 'typebox';
import { Limit } from '../http/types.js';
import { idPattern } from '../shared/ids.js';
import { ChangesSchema, StatusSchema } from '../tickets/schemas.js';
import { TEST_EVENT_TYPE, TICKET_EVENT_TYPES, type TicketEventType } from './outbox.js';
import type { WebhookEvent } from '../http/openapi.js';
import type { EventPayload } from './payload.js';

/*
 * The body of every event, as webhooks deliver it and GET /v1/events lists it: one schema per
 * type, each a component of the OpenAPI document, so that generated clients get a union they can
 * narrow on `type`. They describe what the server writes; consumers should ignore fields they do
 * not know, as new ones may be added.
 */

type Component = TSchema & { $id: string; description: string };

const eventSchema = (id: string, type: string, description: string, data: TSchema): Component =>
  Type.Object(
    {
      id: Type.String({ pattern: idPattern('evt'), description: 'The event id; also the webhook-id header of every delivery of it' }),
      type: Type.Literal(type),
      timestamp: Type.String({ format: 'date-time', description: 'When the event happened: RFC 3339 UTC' }),
      data,
    },
    { $id: id, description },
  ) as unknown as Component;

const Ticket = Type.Ref('Ticket', { description: 'The ticket as it is after the change, without conversation and queue' });
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const TicketCreatedEventSchema = eventSchema(
  'TicketCreatedEvent',
  'ticket.created',
  'A ticket was created (through the API, email or web).',
  Type.Object({ ticket: Ticket }),
);

export const TicketUpdatedEventSchema = eventSchema(
  'TicketUpdatedEvent',
  'ticket.updated',
  'Any change to a ticket, with every field that changed; sent beside the more specific events.',
  Type.Object({ ticket: Ticket, changes: ChangesSchema }),
);

export const TicketStatusChangedEventSchema = eventSchema(
  'TicketStatusChangedEvent',
  'ticket.status_changed',
  'The status changed (also by a customer reply reopening a ticket, or a snooze waking up).',
  Type.Object({ ticket: Ticket, changes: Type.Object({ status: Type.Object({ from: StatusSchema, to: StatusSchema }) }) }),
);

export const TicketAssignedEventSchema = eventSchema(
  'TicketAssignedEvent',
  'ticket.assigned',
  'The assignee changed, including to null (unassigned).',
  Type.Object({
    ticket: Ticket,
    changes: Type.Object({ assigned_to: Type.Object({ from: Nullable(Type.String()), to: Nullable(Type.String()) }, { description: 'Agent emails' }) }),
  }),
);

export const TicketMessageCreatedEventSchema = eventSchema(
  'TicketMessageCreatedEvent',
  'ticket.message_created',
  'A message was added to the conversation; the ticket is as it is after the message.',
  Type.Object({ ticket: Ticket, message: Type.Ref('Message') }),
);

export const TicketMessageDeliveryFailedEventSchema = eventSchema(
  'TicketMessageDeliveryFailedEvent',
  'ticket.message_delivery_failed',
  "An agent's reply could not be e-mailed to the customer: its retries are spent, the relay refused it for good, or it bounced. The message's delivery says why.",
  Type.Object({ ticket: Ticket, message: Type.Ref('Message') }),
);

export const TicketMergedEventSchema = eventSchema(
  'TicketMergedEvent',
  'ticket.merged',
  'A ticket was merged into another: `ticket` is the source (now resolved, with merged_into), `into` the target, which now holds the conversation. The target also gets a ticket.updated with changes.merged_from.',
  Type.Object({ ticket: Ticket, into: Type.Ref('Ticket', { description: 'The ticket merged into, as it is after the merge' }) }),
);

export const CustomerErasedEventSchema = eventSchema(
  'CustomerErasedEvent',
  'customer.erased',
  'A customer was erased (POST /v1/customers/{customer_id}/erase): their address and name were redacted everywhere and their attachments deleted. Carries only the customer id and the counts, never what was erased; drop your own copies of their data.',
  Type.Object({
    customer_id: Type.String({ pattern: idPattern('cus') }),
    brand_id: Type.String(),
    counts: Type.Ref('ErasureCounts'),
  }),
);

export const WebhookTestEventSchema = eventSchema(
  'WebhookTestEvent',
  TEST_EVENT_TYPE,
  'Sent only by POST /v1/webhooks/{webhook_id}/test, to that endpoint alone; not in the event log.',
  Type.Object({ webhook_id: Type.String(), message: Type.String() }),
);

/** Each event type of the log with its schema (ticket events and customer.erased): the event log lists these, webhooks deliver them. */
export const ticketEventSchemas: Record<TicketEventType, Component> = {
  'ticket.created': TicketCreatedEventSchema,
  'ticket.updated': TicketUpdatedEventSchema,
  'ticket.status_changed': TicketStatusChangedEventSchema,
  'ticket.assigned': TicketAssignedEventSchema,
  'ticket.message_created': TicketMessageCreatedEventSchema,
  'ticket.message_delivery_failed': TicketMessageDeliveryFailedEventSchema,
  'ticket.merged': TicketMergedEventSchema,
  'customer.erased': CustomerErasedEventSchema,
};

/** Every payload a webhook endpoint may receive, by event type. */
export const webhookEventSchemas: Record<string, Component> = {
  ...ticketEventSchemas,
  [TEST_EVENT_TYPE]: WebhookTestEventSchema,
};

/** An entry of the event log: one of the ticket events or customer.erased, told apart by `type`. */
export const EventSchema = Type.Unsafe<EventPayload>(
  Type.Union(
    Object.values(ticketEventSchemas).map((s) => Type.Ref(s.$id)),
    { description: 'An event (a ticket event, or customer.erased), exactly as webhooks deliver it' },
  ),
);

/** The query of GET /v1/events: its `after` takes an event id as well as a cursor. */
export const ListEventsQuery = Type.Object(
  {
    type: Type.Optional(Type.Unsafe<string>(Type.Enum([...TICKET_EVENT_TYPES], { description: TICKET_EVENT_TYPES.join(', ') }))),
    after: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'A next_cursor, or the id of the last event you processed (evt_…)' })),
    limit: Limit(500, 100),
  },
  { additionalProperties: false },
);

/** Shared schemas for the app to register (so that `Type.Ref` finds them) and the document to list. */
export const eventComponentSchemas = Object.values(webhookEventSchemas);

/** The webhooks section of the OpenAPI document: one entry per type a webhook endpoint may receive. */
export const webhookEvents: WebhookEvent[] = Object.entries(webhookEventSchemas).map(([type, schema]) => ({
  type,
  schemaId: schema.$id,
  summary: schema.description,
}));
