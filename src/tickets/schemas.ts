import { type TSchema, Type } from 'typebox';
import { Cursor, DateOrTimestamp, Email, Limit, Timestamp } from '../http/types.js';
import { JsonValue } from '../http/json-value.js';
import { idPattern } from '../shared/ids.js';
import { PREVIEW_MAX_CHARS } from '../shared/message-preview.js';
import { OriginSchema, PrioritySchema, STATUSES, StatusSchema } from '../shared/ticket-fields.js';
import { AUTHOR_TYPES, DELIVERY_STATUSES, LIMITS, VISIBILITIES } from './model.js';

// Defined beside the fields they describe, which queues share; the ticket schemas include them.
export { OriginSchema, PrioritySchema, StatusSchema };

const literals = <const T extends readonly string[]>(values: T, description: string) => Type.Unsafe<T[number]>(Type.Enum([...values], { description }));

export const TicketIdParams = Type.Object({ ticket_id: Type.String({ description: 'A ticket id, tick_…' }) });
export const MessageIdParams = Type.Object({
  ticket_id: Type.String({ description: 'A ticket id, tick_…' }),
  message_id: Type.String({ description: 'A message id, msg_…' }),
});

const Tag = Type.String({
  minLength: 1,
  maxLength: LIMITS.tagMax,
  pattern: '\\S',
  description: `Stored trimmed and lower-cased; 1-${LIMITS.tagMax} characters after that`,
});
const Metadata = Type.Record(Type.String(), Type.Unknown(), {
  description: `Arbitrary JSON object, at most ${LIMITS.metadataMaxBytes} bytes serialized and ${LIMITS.metadataMaxDepth} levels of objects and arrays deep (itself included)`,
});

export const Customer = Type.Object(
  { email: Email, name: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])) },
  { additionalProperties: false },
);

export const TicketSchema = Type.Object(
  {
    id: Type.String({ pattern: idPattern('tick') }),
    brand_id: Type.String(),
    subject: Type.String(),
    description: Type.String(),
    status: StatusSchema,
    priority: PrioritySchema,
    assigned_to: Type.Union([Type.String(), Type.Null()], { description: 'Email of the agent' }),
    tags: Type.Array(Type.String()),
    origin: OriginSchema,
    customer: Type.Object({ email: Type.String(), name: Type.Union([Type.String(), Type.Null()]) }),
    metadata: Metadata,
    snoozed_until: Type.Union([Timestamp, Type.Null()]),
    first_response_at: Type.Union([Timestamp, Type.Null()], { description: 'When an agent first replied' }),
    created_at: Timestamp,
    updated_at: Timestamp,
    merged_into: Type.Union([Type.String({ pattern: idPattern('tick') }), Type.Null()], {
      description: 'Set once the ticket was merged into another (POST /v1/tickets/{id}/merge): that ticket’s id, which now holds the conversation',
    }),
    last_message_preview: Type.Union([Type.String({ maxLength: PREVIEW_MAX_CHARS }), Type.Null()], {
      description: `The first line of the latest message that is not an internal note, as plain text (an HTML body read as text), whitespace collapsed, cut to at most ${PREVIEW_MAX_CHARS} characters without an ellipsis; null when the ticket has no such message (or was merged into another)`,
    }),
  },
  { $id: 'Ticket' },
);

export const QueuePlacementSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    position: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], {
      description: '1 + tickets ahead in the queue; null when the ticket is not waiting (not open, or assigned)',
    }),
  },
  { $id: 'QueuePlacement' },
);

export const AttachmentSchema = Type.Object(
  {
    id: Type.String(),
    file_name: Type.String(),
    content_type: Type.String(),
    size: Type.Union([Type.Integer(), Type.Null()]),
    sha256: Type.Union([Type.String(), Type.Null()]),
    download_url: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'MessageAttachment' },
);

export const MessageSchema = Type.Object(
  {
    id: Type.String({ pattern: idPattern('msg') }),
    ticket_id: Type.String(),
    author_type: literals(AUTHOR_TYPES, 'agent or customer'),
    author: Type.Union([Type.Object({ email: Type.Union([Type.String(), Type.Null()]), name: Type.Union([Type.String(), Type.Null()]) }), Type.Null()]),
    body: Type.String(),
    cc: Type.Array(Type.String()),
    attachments: Type.Array(Type.Ref('MessageAttachment')),
    visibility: literals(VISIBILITIES, 'public (the default), or internal: a note for agents, never e-mailed'),
    delivery: Type.Union(
      [
        Type.Object({
          status: literals(DELIVERY_STATUSES, 'queued (waiting or retrying), sent (the relay took it), failed (retries spent, or it bounced)'),
          attempts: Type.Integer({ minimum: 0 }),
          last_error: Type.Union([Type.String(), Type.Null()]),
        }),
        Type.Null(),
      ],
      { description: "The e-mail of an agent's public message to the customer; null when the message is not e-mailed" },
    ),
    full_body: Type.Union([Type.String(), Type.Null()], {
      description: "A received mail's whole text when body has its quoted history or signature trimmed; otherwise null",
    }),
    created_at: Timestamp,
  },
  { $id: 'Message' },
);

const Change = Type.Object({ from: JsonValue('The value before'), to: JsonValue('The value after') });
export const ChangesSchema = Type.Record(Type.String(), Change, { description: '{field: {from, to}}' });

export const AuditEntrySchema = Type.Object(
  {
    id: Type.String(),
    action: Type.String({ description: 'ticket.created, ticket.updated, message.created, ticket.woke_up, ticket.merged, customer.erased' }),
    actor: Type.Object({
      type: Type.String({ description: 'token or system' }),
      id: Type.Union([Type.String(), Type.Null()], { description: 'The token id' }),
      name: Type.String({ description: 'The token name' }),
      agent: Type.Optional(
        Type.Union(
          [
            Type.Object({
              id: Type.String({ description: 'agt_…' }),
              name: Type.String({ description: 'The agent’s name when the entry was written' }),
            }),
            Type.Null(),
          ],
          {
            description:
              'The agent the token belongs to (`agent_id` on the token), when it does: the person who made the change. Null for a token of no agent, the system, and entries written before agents were recorded. Always present in responses.',
          },
        ),
      ),
    }),
    changes: ChangesSchema,
    created_at: Timestamp,
  },
  { $id: 'AuditEntry' },
);

export const ParticipantSchema = Type.Object({
  email: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  role: literals(['customer', 'assignee', 'agent', 'cc'] as const, 'customer, assignee, agent or cc'),
});

export const TicketWithQueue = Type.Intersect([Type.Ref('Ticket'), Type.Object({ queue: Type.Ref('QueuePlacement') })]);

const conversationProperties = {
  messages: Type.Array(Type.Ref('Message')),
  participants: Type.Array(ParticipantSchema),
  audit_trail: Type.Array(Type.Ref('AuditEntry')),
};

export const TicketDetailSchema = Type.Intersect([Type.Ref('Ticket'), Type.Object({ queue: Type.Ref('QueuePlacement'), ...conversationProperties })]);

/**
 * The conversation half of TicketDetailSchema, serialized on its own: the retrieve route keeps it
 * serialized per ticket version and joins it to the ticket's own fields, serialized per read.
 */
export const ConversationSchema = Type.Object(conversationProperties);

export const CreateTicketBody = Type.Object(
  {
    brand_id: Type.String({ minLength: 1, maxLength: 100 }),
    subject: Type.String({ minLength: 1, maxLength: LIMITS.subjectMax, pattern: '\\S' }),
    description: Type.Optional(Type.String({ maxLength: LIMITS.descriptionMaxBytes })),
    customer: Customer,
    priority: Type.Optional(PrioritySchema),
    tags: Type.Optional(Type.Array(Tag, { maxItems: LIMITS.tagsMax })),
    origin: Type.Optional(OriginSchema),
    metadata: Type.Optional(Metadata),
    assigned_to: Type.Optional(Type.Union([Email, Type.Null()])),
  },
  { additionalProperties: false },
);

export const UpdateTicketBody = Type.Object(
  {
    status: Type.Optional(StatusSchema),
    priority: Type.Optional(PrioritySchema),
    assigned_to: Type.Optional(Type.Union([Email, Type.Null()], { description: 'Agent email, or null to unassign' })),
    tags: Type.Optional(Type.Array(Tag, { maxItems: LIMITS.tagsMax, description: 'Replaces the whole set' })),
    tags_add: Type.Optional(
      Type.Array(Tag, {
        maxItems: LIMITS.tagsMax,
        description: 'Added to the current set, applied to the ticket as it is when the change commits; not with `tags`',
      }),
    ),
    tags_remove: Type.Optional(
      Type.Array(Tag, { maxItems: LIMITS.tagsMax, description: 'Removed from the current set (absent ones are ignored); not with `tags`' }),
    ),
    snoozed_until: Type.Optional(Type.Union([Timestamp, Type.Null()], { description: 'Only with status snoozed' })),
    subject: Type.Optional(Type.String({ minLength: 1, maxLength: LIMITS.subjectMax, pattern: '\\S' })),
    metadata: Type.Optional(Metadata),
  },
  { additionalProperties: false },
);

export const CreateMessageBody = Type.Object(
  {
    author_type: literals(AUTHOR_TYPES, 'agent, or customer (also for importing historic email threads)'),
    body: Type.String({ minLength: 1, maxLength: LIMITS.bodyMaxBytes }),
    cc: Type.Optional(Type.Array(Email, { maxItems: LIMITS.ccMax })),
    author: Type.Optional(
      Type.Object(
        { email: Type.Optional(Email), name: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])) },
        { additionalProperties: false },
      ),
    ),
    created_at: Type.Optional(Type.String({ format: 'date-time', description: 'Past instant for imports; imports have no status side-effects' })),
    attachments: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 20, description: 'Ids of uploaded attachments (att_…)' })),
    visibility: Type.Optional(
      literals(VISIBILITIES, 'public (the default; an agent message is e-mailed to the customer) or internal (agents only, never e-mailed)'),
    ),
  },
  { additionalProperties: false },
);

/** The orders a ticket list can take: `-` for descending. Without `sort`, newest first by id. */
export const TICKET_SORTS = ['created_at', '-created_at', 'updated_at', '-updated_at'] as const;
export type TicketSort = (typeof TICKET_SORTS)[number];

/** At most this many values in one multi-value filter (comma-separated and repeated together). */
export const MAX_FILTER_VALUES = LIMITS.tagsMax;

const statusList = `(${STATUSES.join('|')})`;
/** A value a client may send once or repeat (`?tag=a&tag=b`); OpenAPI clients send arrays repeated. */
const oneOrMore = <T extends TSchema>(item: T, description: string) =>
  Type.Union([item, Type.Array(item, { minItems: 1, maxItems: MAX_FILTER_VALUES })], { description });
const TagList = Type.String({ minLength: 1, maxLength: 4096, pattern: '\\S' });

export const ListTicketsQuery = Type.Object(
  {
    brand_id: Type.Optional(Type.String({ description: 'Limit results to a single brand' })),
    status: Type.Optional(
      oneOrMore(
        Type.String({ pattern: `^${statusList}(,${statusList})*$`, maxLength: 200 }),
        'open, pending, resolved, snoozed; several, comma-separated or repeated, for any of them (status=open,pending)',
      ),
    ),
    priority: Type.Optional(PrioritySchema),
    assigned_to: Type.Optional(Type.String({ description: 'Email of the agent' })),
    unassigned: Type.Optional(Type.Boolean({ description: 'true: only tickets with no assignee; false: only assigned ones. Not with assigned_to' })),
    tag: Type.Optional(oneOrMore(Tag, 'Tickets with this tag, matched exactly (a comma is part of the tag); repeated, tickets with all of them')),
    tags: Type.Optional(oneOrMore(TagList, 'Tickets with all of these tags, comma-separated (tags=a,b); repeated, all of every list')),
    tags_any: Type.Optional(oneOrMore(TagList, 'Tickets with at least one of these tags, comma-separated (tags_any=a,b)')),
    customer_email: Type.Optional(Type.String()),
    created_after: Type.Optional(DateOrTimestamp),
    created_before: Type.Optional(DateOrTimestamp),
    updated_after: Type.Optional(DateOrTimestamp),
    updated_before: Type.Optional(DateOrTimestamp),
    sort: Type.Optional(
      Type.Unsafe<TicketSort>(
        Type.Enum([...TICKET_SORTS], {
          description:
            'created_at, -created_at, updated_at or -updated_at (- for descending); without it, newest first. With updated_at a ticket changed while you page moves to the end and is seen again: the order for incremental sync (docs/sync.md)',
        }),
      ),
    ),
    limit: Limit(100, 25),
    after: Type.Optional(Cursor),
  },
  { additionalProperties: false },
);

export const BULK_MAX_TICKETS = 100;

export const BulkUpdateBody = Type.Object(
  {
    ids: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
      minItems: 1,
      maxItems: BULK_MAX_TICKETS,
      description: `Up to ${BULK_MAX_TICKETS} ticket ids (tick_…), each once`,
    }),
    change: Type.Object(
      {
        status: Type.Optional(StatusSchema),
        priority: Type.Optional(PrioritySchema),
        assigned_to: Type.Optional(Type.Union([Email, Type.Null()], { description: 'Agent email, or null to unassign' })),
        snoozed_until: Type.Optional(Type.Union([Timestamp, Type.Null()], { description: 'Only with status snoozed' })),
        tags_add: Type.Optional(Type.Array(Tag, { maxItems: LIMITS.tagsMax })),
        tags_remove: Type.Optional(Type.Array(Tag, { maxItems: LIMITS.tagsMax })),
      },
      { additionalProperties: false, minProperties: 1, description: 'Applied to every ticket, exactly as PATCH /v1/tickets/{id} with this body would' },
    ),
  },
  { additionalProperties: false },
);

export const BulkResultSchema = Type.Object({
  id: Type.String(),
  status: Type.Integer({ description: 'The status PATCH would have answered for this ticket: 200, or 404, 412, 422' }),
  ticket: Type.Union([Type.Ref('Ticket'), Type.Null()], { description: 'The ticket after the change; null when it failed' }),
  error: Type.Union(
    [
      Type.Object({
        code: Type.String(),
        detail: Type.String(),
        errors: Type.Optional(Type.Array(Type.Object({ pointer: Type.String(), message: Type.String() }))),
      }),
      Type.Null(),
    ],
    { description: 'Why this ticket failed (the problem PATCH would have answered); null on success' },
  ),
});

export const BulkUpdateResponse = Type.Object({
  results: Type.Array(BulkResultSchema, { description: 'One per id, in the order sent' }),
});

export const MergeTicketBody = Type.Object(
  { into: Type.String({ minLength: 1, maxLength: 64, description: 'The ticket (tick_…) that takes over the conversation' }) },
  { additionalProperties: false },
);

export const MergeTicketResponse = Type.Object({
  ticket: Type.Ref('Ticket', { description: 'The merged ticket: resolved, with merged_into' }),
  into: Type.Ref('Ticket', { description: 'The ticket merged into, now holding both conversations' }),
  moved_messages: Type.Integer({ minimum: 0 }),
});
