import { Type } from 'typebox';
import { principalOf } from '../http/auth.js';
import { PageQuery } from '../http/pagination.js';
import { type App, errorResponses, pageSchema } from '../http/types.js';
import { Match } from './schemas.js';
import type { QueueService } from './service.js';

export { QueueSchema } from './schemas.js';

const QueueParams = Type.Object({ queue_id: Type.String() });

export function queueRoutes(app: App, queues: QueueService): void {
  app.post(
    '/v1/queues',
    {
      config: { scope: 'admin', brands: 'body' },
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
    async (request, reply) => {
      const created = await queues.create(principalOf(request), request.body);
      return reply.status(201).header('Location', `/v1/queues/${created.id}`).send(created);
    },
  );

  app.get(
    '/v1/queues',
    {
      config: { scope: 'tickets:read', brands: 'filter' },
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
      config: { scope: 'tickets:read', brands: 'resource' },
      schema: { tags: ['Brands and queues'], summary: 'Retrieve a queue', params: QueueParams, response: { 200: Type.Ref('Queue'), ...errorResponses(404) } },
    },
    async (request) => queues.get(principalOf(request), request.params.queue_id),
  );

  app.patch(
    '/v1/queues/:queue_id',
    {
      config: { scope: 'admin', brands: 'resource' },
      schema: {
        tags: ['Brands and queues'],
        summary: 'Update a queue',
        description: 'Routing changes apply to tickets created or re-prioritised/re-tagged afterwards.',
        params: QueueParams,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            match: Type.Optional(Match),
            order: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
          },
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
      config: { scope: 'tickets:read', brands: 'resource' },
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
