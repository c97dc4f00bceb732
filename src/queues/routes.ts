import { Type } from 'typebox';
import { principalOf } from '../http/auth.js';
import { type App, Timestamp, errorResponses, pageSchema } from '../http/types.js';
import { OriginSchema, PageQuery, PrioritySchema } from '../tickets/schemas.js';
import type { QueueService } from './service.js';

const Match = Type.Object(
  {
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64, pattern: '\\S' }), { minItems: 1, maxItems: 50, description: 'Any of these tags' })),
    priority: Type.Optional(Type.Array(PrioritySchema, { minItems: 1, description: 'Priority in this list' })),
    origin: Type.Optional(Type.Array(OriginSchema, { minItems: 1, description: 'Origin in this list' })),
  },
  { additionalProperties: false, description: 'Every key given must hold; within a key, any value matches' },
);

export const QueueSchema = Type.Object(
  {
    id: Type.String(),
    brand_id: Type.String(),
    name: Type.String(),
    match: Type.Union([Match, Type.Null()]),
    order: Type.Integer({ description: 'Routing queues are tried in ascending order; the default queue is last' }),
    is_default: Type.Boolean(),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'Queue' },
);

const QueueParams = Type.Object({ queue_id: Type.String() });

export function queueRoutes(app: App, queues: QueueService): void {
  app.post(
    '/v1/queues',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['Brands and queues'],
        summary: 'Add a routing queue',
        description: 'A new ticket goes to the first routing queue (by order) whose match it satisfies, else to the brand default queue.',
        body: Type.Object(
          {
            brand_id: Type.String({ minLength: 1 }),
            name: Type.String({ minLength: 1, maxLength: 200 }),
            match: Match,
            order: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Ref('Queue'), ...errorResponses(422) },
      },
    },
    async (request, reply) => reply.status(201).send(await queues.create(principalOf(request), request.body)),
  );

  app.get(
    '/v1/queues',
    {
      config: { scope: 'tickets:read' },
      schema: {
        tags: ['Brands and queues'],
        summary: 'List queues in routing order',
        querystring: Type.Object({ brand_id: Type.Optional(Type.String()) }, { additionalProperties: false }),
        response: { 200: Type.Object({ data: Type.Array(Type.Ref('Queue')) }), ...errorResponses(400) },
      },
    },
    async (request) => ({ data: await queues.list(principalOf(request), request.query.brand_id) }),
  );

  app.get(
    '/v1/queues/:queue_id',
    {
      config: { scope: 'tickets:read' },
      schema: { tags: ['Brands and queues'], summary: 'Retrieve a queue', params: QueueParams, response: { 200: Type.Ref('Queue'), ...errorResponses(404) } },
    },
    async (request) => queues.get(principalOf(request), request.params.queue_id),
  );

  app.patch(
    '/v1/queues/:queue_id',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['Brands and queues'],
        summary: 'Update a queue',
        description: 'Routing changes apply to tickets created or re-prioritised/re-tagged afterwards.',
        params: QueueParams,
        body: Type.Object(
          { name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })), match: Type.Optional(Match), order: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Ref('Queue'), ...errorResponses(404, 422) },
      },
    },
    async (request) => queues.update(principalOf(request), request.params.queue_id, request.body),
  );

  app.get(
    '/v1/queues/:queue_id/tickets',
    {
      config: { scope: 'tickets:read' },
      schema: {
        tags: ['Brands and queues'],
        summary: 'The tickets waiting in a queue, in order',
        description: 'Open, unassigned tickets by priority (urgent first), then oldest first, each with its position.',
        params: QueueParams,
        querystring: PageQuery,
        response: {
          200: pageSchema(Type.Intersect([Type.Ref('Ticket'), Type.Object({ position: Type.Integer({ minimum: 1 }) })])),
          ...errorResponses(400, 404),
        },
      },
    },
    async (request) => queues.waitingTickets(principalOf(request), request.params.queue_id, request.query),
  );
}
