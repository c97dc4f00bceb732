import { Type } from 'typebox';
import { principalOf } from '../http/auth.js';
import { type App, Timestamp, errorResponses } from '../http/types.js';
import { BRAND_ID_PATTERN, type BrandService } from './service.js';

export const BrandSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    default_queue_id: Type.String({ description: 'The queue that takes every ticket no routing queue matches' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'Brand' },
);

const BrandParams = Type.Object({ brand_id: Type.String() });

export function brandRoutes(app: App, brands: BrandService): void {
  app.post(
    '/v1/brands',
    {
      config: { scope: 'admin', brands: 'unrestricted' },
      schema: {
        tags: ['Brands and queues'],
        summary: 'Create a brand',
        description: 'The id may be chosen (brand_[A-Za-z0-9_]+, e.g. brand_123); otherwise one is generated. Every brand gets a default queue.',
        body: Type.Object(
          { id: Type.Optional(Type.String({ pattern: BRAND_ID_PATTERN })), name: Type.String({ minLength: 1, maxLength: 200 }) },
          { additionalProperties: false },
        ),
        response: { 201: Type.Ref('Brand'), ...errorResponses(409, 422) },
      },
    },
    async (request, reply) => {
      const created = await brands.create(request.body);
      return reply.status(201).header('Location', `/v1/brands/${created.id}`).send(created);
    },
  );

  app.get(
    '/v1/brands',
    {
      config: { scope: 'tickets:read', brands: 'filter' },
      schema: {
        tags: ['Brands and queues'],
        summary: 'List the brands this token can see',
        response: { 200: Type.Object({ data: Type.Array(Type.Ref('Brand')) }), ...errorResponses() },
      },
    },
    async (request) => ({ data: await brands.list(principalOf(request)) }),
  );

  app.get(
    '/v1/brands/:brand_id',
    {
      config: { scope: 'tickets:read', brands: 'resource' },
      schema: { tags: ['Brands and queues'], summary: 'Retrieve a brand', params: BrandParams, response: { 200: Type.Ref('Brand'), ...errorResponses(404) } },
    },
    async (request) => brands.get(principalOf(request), request.params.brand_id),
  );

  app.patch(
    '/v1/brands/:brand_id',
    {
      config: { scope: 'admin', brands: 'resource' },
      schema: {
        tags: ['Brands and queues'],
        summary: 'Rename a brand',
        params: BrandParams,
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
        response: { 200: Type.Ref('Brand'), ...errorResponses(404, 422) },
      },
    },
    async (request) => brands.rename(principalOf(request), request.params.brand_id, request.body.name),
  );
}
