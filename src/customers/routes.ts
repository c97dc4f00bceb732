import { Type } from 'typebox';
import { principalOf } from '../http/auth.js';
import { PageQuery } from '../http/pagination.js';
import { Cursor, Limit, Timestamp, type App, errorResponses, pageSchema } from '../http/types.js';
import { idPattern } from '../shared/ids.js';
import type { CustomerService } from './service.js';

export const CustomerSchema = Type.Object(
  {
    id: Type.String({ pattern: idPattern('cus') }),
    brand_id: Type.String(),
    email: Type.String({ description: 'Lower-cased; one customer per brand and address' }),
    name: Type.Union([Type.String(), Type.Null()], { description: 'The first name given with a ticket, until changed here' }),
    external_id: Type.Union([Type.String(), Type.Null()], { description: 'Your own id for this person (CRM, shop)' }),
    notes: Type.Union([Type.String(), Type.Null()]),
    ticket_count: Type.Integer({ minimum: 0, description: 'Tickets of this brand with this customer' }),
    open_ticket_count: Type.Integer({ minimum: 0, description: 'Of those, the ones not resolved (open, pending or snoozed)' }),
    last_activity_at: Timestamp,
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'Customer', description: 'A person who wrote in, once per brand and e-mail address' },
);

const CustomerParams = Type.Object({ customer_id: Type.String({ description: 'A customer id, cus_…' }) });
const OptionalText = (maxLength: number) => Type.Optional(Type.Union([Type.String({ maxLength }), Type.Null()]));

export function customerRoutes(app: App, customers: CustomerService): void {
  app.get(
    '/v1/customers',
    {
      config: { scope: 'tickets:read', brands: 'filter' },
      schema: {
        tags: ['Customers'],
        summary: 'List customers',
        description: 'Newest first. `q` finds a text anywhere in the name, address or external id, regardless of case.',
        querystring: Type.Object(
          {
            brand_id: Type.Optional(Type.String({ description: 'Limit results to a single brand' })),
            email: Type.Optional(Type.String({ maxLength: 254, description: 'Exact address, regardless of case' })),
            q: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            limit: Limit(100, 25),
            after: Type.Optional(Cursor),
          },
          { additionalProperties: false },
        ),
        response: { 200: pageSchema(Type.Ref('Customer')), ...errorResponses(400) },
      },
    },
    async (request) => customers.list(principalOf(request), request.query),
  );

  app.get(
    '/v1/customers/:customer_id',
    {
      config: { scope: 'tickets:read', brands: 'resource' },
      schema: { tags: ['Customers'], summary: 'Retrieve a customer', params: CustomerParams, response: { 200: Type.Ref('Customer'), ...errorResponses(404) } },
    },
    async (request) => customers.get(principalOf(request), request.params.customer_id),
  );

  app.patch(
    '/v1/customers/:customer_id',
    {
      config: { scope: 'tickets:write', brands: 'resource' },
      schema: {
        tags: ['Customers'],
        summary: 'Update a customer',
        description: 'Only `name`, `external_id` and `notes`; null (or blank) clears one. Tickets keep the customer name they were created with.',
        params: CustomerParams,
        body: Type.Object({ name: OptionalText(200), external_id: OptionalText(200), notes: OptionalText(10_000) }, { additionalProperties: false }),
        response: { 200: Type.Ref('Customer'), ...errorResponses(404, 422) },
      },
    },
    async (request) => customers.update(principalOf(request), request.params.customer_id, request.body),
  );

  app.get(
    '/v1/customers/:customer_id/tickets',
    {
      config: { scope: 'tickets:read', brands: 'resource' },
      schema: {
        tags: ['Customers'],
        summary: 'List the tickets of a customer',
        description: 'Newest first, paginated like the ticket list.',
        params: CustomerParams,
        querystring: PageQuery,
        response: { 200: pageSchema(Type.Ref('Ticket')), ...errorResponses(400, 404) },
      },
    },
    async (request) => customers.listTickets(principalOf(request), request.params.customer_id, request.query),
  );
}
