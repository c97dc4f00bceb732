import { Type } from 'typebox';
import { principalOf } from '../http/auth.js';
import { type App, Timestamp, errorResponses } from '../http/types.js';
import { BRAND_ID_PATTERN, type BrandService, MAX_BRAND_ADDRESSES } from './service.js';

export const BrandSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    email_addresses: Type.Array(Type.String(), {
      description: 'Mail to these addresses becomes tickets of this brand; replies go out from the first. Each address belongs to one brand.',
    }),
    default_queue_id: Type.String({ description: 'The queue that takes every ticket no routing queue matches' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'Brand' },
);

const BrandParams = Type.Object({ brand_id: Type.String() });

const EmailAddresses = Type.Array(Type.String({ minLength: 3, maxLength: 254 }), {
  maxItems: MAX_BRAND_ADDRESSES,
  description: 'Plain addresses (local@domain, no +), stored lower-cased; each may belong to one brand only (409 otherwise)',
});

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
          {
            id: Type.Optional(Type.String({ pattern: BRAND_ID_PATTERN })),
            name: Type.String({ minLength: 1, maxLength: 200 }),
            email_addresses: Type.Optional(EmailAddresses),
          },
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
        summary: 'Rename a brand or set its e-mail addresses',
        description: 'email_addresses replaces the whole list; the first is the address replies are sent from.',
        params: BrandParams,
        body: Type.Object(
          { name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })), email_addresses: Type.Optional(EmailAddresses) },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Type.Ref('Brand'), ...errorResponses(404, 409, 422) },
      },
    },
    async (request) => brands.update(principalOf(request), request.params.brand_id, request.body),
  );
}
