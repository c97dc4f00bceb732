import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { canSeeBrand } from '../auth/scopes.js';
import { principalOf } from '../http/auth.js';
import { PageQuery } from '../http/pagination.js';
import { type App, errorResponses, pageSchema, sendSerialized, serializerOf } from '../http/types.js';
import {
  AttachmentSchema,
  AuditEntrySchema,
  BulkUpdateBody,
  BulkUpdateResponse,
  ConversationSchema,
  CreateMessageBody,
  CreateTicketBody,
  ListTicketsQuery,
  MergeTicketBody,
  MergeTicketResponse,
  MessageIdParams,
  MessageSchema,
  TicketDetailSchema,
  TicketIdParams,
  TicketSchema,
  TicketWithQueue,
  UpdateTicketBody,
} from './schemas.js';
import { VersionedJsonCache } from './detail-cache.js';
import type { TicketService } from './service.js';
import { StoredRepresentations, representationShape } from './stored-representations.js';

const Ref = (id: string) => Type.Ref(id);
// Schema objects made once: a serializer is compiled per schema object.
/** A ticket's own fields: a list item, and the first part of a retrieved ticket. */
const TicketItem = Ref('Ticket');
const QueueItem = Ref('QueuePlacement');
const PAGE_START = Buffer.from('{"data":[');
const COMMA = Buffer.from(',');

/**
 * A retrieved ticket from its three parts, each serialized by its schema, joined in
 * TicketDetailSchema's property order: each inner closing and opening brace gives way to a comma
 * (the queue is a property).
 */
function joinDetail(fields: Buffer, queue: string, conversation: Buffer): Buffer {
  return Buffer.concat([fields.subarray(0, -1), Buffer.from(`,"queue":${queue},`), conversation.subarray(1)]);
}

/** `joinDetail` of stored JSON, which is text (representation-store.ts): the answer stays a string until the socket encodes it. */
function joinDetailText(fields: string, queue: string, conversation: string): string {
  return `${fields.slice(0, -1)},"queue":${queue},${conversation.slice(1)}`;
}

export function ticketRoutes(app: App, tickets: TicketService): void {
  const conversations = new VersionedJsonCache();
  // Each ticket version's own fields as the Ticket schema writes them: list items and the retrieve route's first part.
  const ticketFields = new VersionedJsonCache(8 * 1024 * 1024);
  // Whole answers of the retrieve route, by the database's committed version (`committedVersion`)
  // rather than the ticket's: while nothing at all has been committed, a ticket's row, queue place
  // and conversation are what they were, so an answer is served without a query. Any commit, by
  // any process, moves the version and retires every entry; under writes this is a miss and the
  // two caches above do the work. The brand is kept to check each caller's sight of the ticket.
  // Kept from a ticket's second read on: most tickets of a large helpdesk are read once in a while.
  const answers = new VersionedJsonCache<{ brandId: string; etag: string }>(undefined, { admitOnSecondSet: true });
  // List pages the same way, by token and URL: what a page holds depends on the query and on the
  // token alone (its brands, its agent), and a change to a token is a commit too.
  const pages = new VersionedJsonCache(8 * 1024 * 1024);
  // The serializers of a ticket's fields and conversation, taken from the first request that needs
  // them: the same compiled functions a reply uses, so stored JSON is byte for byte what a read
  // writes. Stored representations are only built after a request: the sweep over every ticket
  // starts once they are taken.
  let serializers: { fields: (doc: unknown) => string; conversation: (doc: unknown) => string } | undefined;
  const serializersOf = (reply: FastifyReply) => {
    if (serializers) return serializers;
    serializers = { fields: serializerOf(reply, TicketItem), conversation: serializerOf(reply, ConversationSchema) };
    stored.sweep();
    return serializers;
  };
  const stored = new StoredRepresentations({
    shape: representationShape([TicketSchema, MessageSchema, AttachmentSchema, AuditEntrySchema, ConversationSchema]),
    save: tickets.saveRepresentations,
    findUnstored: tickets.findUnstored,
    build: async (ticketId) => {
      if (!serializers) return undefined;
      // A ticket gone since it was named has nothing to store.
      const read = await tickets.read(null, ticketId).catch(() => undefined);
      if (!read) return undefined;
      const { reusable, ...conversation } = await read.conversation();
      if (!reusable) return undefined;
      return {
        ticket_id: ticketId,
        version: read.version,
        shape: stored.shape,
        fields: serializers.fields(read.view),
        conversation: serializers.conversation(conversation),
      };
    },
  });
  app.addHook('onClose', () => stored.close());

  app.post(
    '/v1/tickets',
    {
      config: { scope: 'tickets:write', brands: 'body' },
      schema: {
        tags: ['Tickets'],
        summary: 'Create a ticket',
        description: 'Returns the created ticket plus its queue placement.',
        body: CreateTicketBody,
        response: { 201: TicketWithQueue, ...errorResponses(409, 422) },
      },
    },
    async (request, reply) => {
      const { etag, ...ticket } = await tickets.create(principalOf(request), request.body);
      serializersOf(reply);
      stored.touched(ticket.id);
      return reply.status(201).header('ETag', etag).header('Location', `/v1/tickets/${ticket.id}`).send(ticket);
    },
  );

  app.get(
    '/v1/tickets',
    {
      config: { scope: 'tickets:read', brands: 'filter' },
      schema: {
        tags: ['Tickets'],
        summary: 'List tickets',
        description: 'Newest first. Pass next_cursor as `after` for the next page; it is null on the last page.',
        querystring: ListTicketsQuery,
        response: { 200: pageSchema(Ref('Ticket')), ...errorResponses(400) },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const committed = tickets.committedVersion();
      const pageKey = `${principal.tokenId}\0${request.url}`;
      const kept = committed === undefined ? undefined : pages.get(pageKey, committed);
      if (kept) return sendSerialized(reply, kept);
      // Each item as the page schema would write it, kept by ticket version: a page whose tickets
      // have not changed costs their ids and versions, not their rows nor their serialization.
      const page = await tickets.listKeys(principal, request.query);
      const items = page.data.map((k) => ticketFields.get(k.id, k.version));
      const missing = page.data.filter((_, i) => items[i] === undefined).map((k) => k.id);
      if (missing.length) {
        const serialize = serializerOf(reply, TicketItem);
        const loaded = new Map<string, Buffer>();
        for (const { version, ticket } of await page.load(missing)) loaded.set(ticket.id, ticketFields.set(ticket.id, version, serialize(ticket)));
        page.data.forEach((k, i) => {
          items[i] ??= loaded.get(k.id);
        });
      }
      // A ticket gone between the two reads is left out (none is deleted today; merged ones stay).
      const parts: Buffer[] = [PAGE_START];
      for (const json of items) {
        if (json === undefined) continue;
        if (parts.length > 1) parts.push(COMMA);
        parts.push(json);
      }
      parts.push(Buffer.from(`],"next_cursor":${JSON.stringify(page.next_cursor)}}`));
      const json = Buffer.concat(parts);
      if (committed !== undefined) pages.set(pageKey, committed, json);
      return sendSerialized(reply, json);
    },
  );

  app.post(
    '/v1/tickets/bulk',
    {
      config: { scope: 'tickets:write', brands: 'filter' },
      schema: {
        tags: ['Tickets'],
        summary: 'Change many tickets at once',
        description:
          'Applies one change (status, priority, assigned_to, tags_add/tags_remove) to up to 100 tickets, each as PATCH would: audited and evented one by one. A ticket that is missing, of another brand, or refuses the change fails alone (its result carries the problem); the others are changed. Send Idempotency-Key to retry safely.',
        body: BulkUpdateBody,
        response: { 200: BulkUpdateResponse, ...errorResponses(409, 422) },
      },
    },
    async (request, reply) => {
      const results = await tickets.bulkUpdate(principalOf(request), request.body.ids, request.body.change);
      serializersOf(reply);
      for (const result of results) if (result.ticket) stored.touched(result.id);
      return { results };
    },
  );

  app.get(
    '/v1/tickets/:ticket_id',
    {
      config: { scope: 'tickets:read', brands: 'resource' },
      schema: {
        tags: ['Tickets'],
        summary: 'Retrieve a ticket',
        description: 'Returns full conversation history, participants, and audit trail.',
        params: TicketIdParams,
        response: { 200: TicketDetailSchema, ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      const id = request.params.ticket_id;
      const principal = principalOf(request);
      // Taken before anything is read: an answer kept under it is never newer than it says.
      const committed = tickets.committedVersion();
      const kept = committed === undefined ? undefined : answers.entry(id, committed);
      if (kept && canSeeBrand(principal, kept.meta.brandId)) return sendSerialized(reply.header('ETag', kept.meta.etag), kept.json);
      // The ticket's JSON stored for its version (stored by a read in any process, or after the
      // write that made the version), read with its head and queue place in one statement.
      const { stored: storedRead, read } = await tickets.retrieve(principal, id, stored.shape);
      if (storedRead) {
        const json = joinDetailText(storedRead.fields, serializerOf(reply, QueueItem)(storedRead.queue), storedRead.conversation);
        if (committed !== undefined) answers.offer(id, committed, json, { brandId: storedRead.brandId, etag: storedRead.etag });
        return sendSerialized(reply.header('ETag', storedRead.etag), json);
      }
      let conversation = conversations.get(id, read.version);
      let reusable = conversation !== undefined;
      const serialize = serializersOf(reply);
      if (conversation === undefined) {
        const { reusable: loadedReusable, ...loaded } = await read.conversation();
        const text = serialize.conversation(loaded);
        reusable = loadedReusable;
        conversation = reusable ? conversations.set(id, read.version, text) : Buffer.from(text);
      }
      // The ticket's own fields are its list item, kept by version like the conversation.
      const fields = ticketFields.get(id, read.version) ?? ticketFields.set(id, read.version, serialize.fields(read.view));
      if (reusable) stored.keep(id, read.version, fields, conversation);
      const json = joinDetail(fields, serializerOf(reply, QueueItem)(read.queue), conversation);
      if (committed !== undefined && reusable) answers.set(id, committed, json, { brandId: read.brandId, etag: read.etag });
      return sendSerialized(reply.header('ETag', read.etag), json);
    },
  );

  app.patch(
    '/v1/tickets/:ticket_id',
    {
      config: { scope: 'tickets:write', brands: 'resource' },
      schema: {
        tags: ['Tickets'],
        summary: 'Update a ticket',
        description:
          'Partial update: include only the fields you want to change. Send If-Match with the ETag of your last read to avoid overwriting a concurrent change (412). A ticket merged into another (`merged_into` set) takes no changes: 409, naming the ticket to change instead.',
        params: TicketIdParams,
        headers: Type.Object({ 'if-match': Type.Optional(Type.String()) }),
        body: UpdateTicketBody,
        response: { 200: TicketWithQueue, ...errorResponses(404, 409, 412, 422) },
      },
    },
    async (request, reply) => {
      const {
        etag,
        changes: _changes,
        ...ticket
      } = await tickets.update(principalOf(request), request.params.ticket_id, request.body, {
        ifMatch: request.headers['if-match'],
      });
      serializersOf(reply);
      stored.touched(ticket.id);
      return reply.header('ETag', etag).send(ticket);
    },
  );

  app.post(
    '/v1/tickets/:ticket_id/messages',
    {
      config: { scope: 'tickets:write', brands: 'resource' },
      schema: {
        tags: ['Tickets'],
        summary: 'Post a reply',
        description:
          'Use author_type "customer" (with created_at) when importing historic email threads. A ticket merged into another (`merged_into` set) takes no messages: 409, naming the ticket to write to (a mail reply to its thread is added there).',
        params: TicketIdParams,
        body: CreateMessageBody,
        response: { 201: Ref('Message'), ...errorResponses(404, 409, 422) },
      },
    },
    async (request, reply) => {
      const message = await tickets.addMessage(principalOf(request), request.params.ticket_id, request.body);
      serializersOf(reply);
      stored.touched(message.ticket_id);
      return reply.status(201).header('Location', `/v1/tickets/${message.ticket_id}/messages/${message.id}`).send(message);
    },
  );

  app.post(
    '/v1/tickets/:ticket_id/merge',
    {
      config: { scope: 'tickets:write', brands: 'resource' },
      schema: {
        tags: ['Tickets'],
        summary: 'Merge a ticket into another',
        description:
          'The conversation (messages, their attachments, and with them the participants) moves into `into`, a ticket of the same brand; this ticket is resolved with `merged_into` pointing there. Both get a `ticket.merged` audit entry; events: `ticket.merged` (and the status change) for this ticket, `ticket.updated` with `changes.merged_from` for the target. A search for this ticket’s conversation finds the target.',
        params: TicketIdParams,
        body: MergeTicketBody,
        response: { 200: MergeTicketResponse, ...errorResponses(404, 409, 422) },
      },
    },
    async (request, reply) => {
      const merged = await tickets.merge(principalOf(request), request.params.ticket_id, request.body.into);
      serializersOf(reply);
      stored.touched(merged.ticket.id);
      stored.touched(merged.into.id);
      return merged;
    },
  );

  app.get(
    '/v1/tickets/:ticket_id/messages/:message_id',
    {
      config: { scope: 'tickets:read', brands: 'resource' },
      schema: {
        tags: ['Tickets'],
        summary: 'Retrieve a message',
        description: 'One message of the conversation, where the Location of POST /v1/tickets/{id}/messages points.',
        params: MessageIdParams,
        response: { 200: Ref('Message'), ...errorResponses(404) },
      },
    },
    async (request) => tickets.getMessage(principalOf(request), request.params.ticket_id, request.params.message_id),
  );

  app.get(
    '/v1/tickets/:ticket_id/messages',
    {
      config: { scope: 'tickets:read', brands: 'resource' },
      schema: {
        tags: ['Tickets'],
        summary: 'List the messages of a ticket',
        description: 'Chronological, paginated; for long conversations.',
        params: TicketIdParams,
        querystring: PageQuery,
        response: { 200: pageSchema(Ref('Message')), ...errorResponses(400, 404) },
      },
    },
    async (request) => tickets.listMessages(principalOf(request), request.params.ticket_id, request.query),
  );

  app.get(
    '/v1/tickets/:ticket_id/audit',
    {
      config: { scope: 'tickets:read', brands: 'resource' },
      schema: {
        tags: ['Tickets'],
        summary: 'List the audit trail of a ticket',
        description: 'Oldest first, paginated.',
        params: TicketIdParams,
        querystring: PageQuery,
        response: { 200: pageSchema(Ref('AuditEntry')), ...errorResponses(400, 404) },
      },
    },
    async (request) => tickets.listAudit(principalOf(request), request.params.ticket_id, request.query),
  );
}
