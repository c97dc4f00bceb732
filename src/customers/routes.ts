import { Type } from 'typebox';
import { principalOf } from '../http/auth.js';
import { PageQuery } from '../http/pagination.js';
import { Cursor, Limit, Timestamp, type App, errorResponses, pageSchema } from '../http/types.js';
import { idPattern } from '../shared/ids.js';
import type { CustomerService } from './service.js';

export const ErasureResultSchema = Type.Object(
  {
    customer_id: Type.String({ pattern: idPattern('cus') }),
    erased: Type.Boolean({ description: 'Whether the customer is erased now: false only for a dry run of a customer not erased yet' }),
    dry_run: Type.Boolean(),
    erased_at: Type.Union([Timestamp, Type.Null()], { description: 'When the customer was erased (by this call or an earlier one); null for a dry run' }),
    counts: Type.Ref('ErasureCounts', {
      description: 'What was changed (a dry run: what would be); all zero when the customer was erased already',
    }),
  },
  { $id: 'ErasureResult' },
);

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
    erased_at: Type.Union([Timestamp, Type.Null()], {
      description:
        'When the customer was erased (POST /v1/customers/{customer_id}/erase); the row is then a tombstone: `email` is `<id>@erased.invalid`, name, external id and notes are null',
    }),
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
        description:
          'Newest first. `q` finds a text anywhere in the name, address or external id, regardless of case; without `email`, one request reads at most 5,000 customers, so a page may be short or empty while `next_cursor` continues the search (null once every customer was read).',
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
        description:
          'Only `name`, `external_id` and `notes`; null (or blank) clears one. Tickets keep the customer name they were created with. An erased customer cannot be changed (409).',
        params: CustomerParams,
        body: Type.Object({ name: OptionalText(200), external_id: OptionalText(200), notes: OptionalText(10_000) }, { additionalProperties: false }),
        response: { 200: Type.Ref('Customer'), ...errorResponses(404, 409, 422) },
      },
    },
    async (request) => customers.update(principalOf(request), request.params.customer_id, request.body),
  );

  app.post(
    '/v1/customers/:customer_id/erase',
    {
      config: { scope: 'admin', brands: 'resource' },
      schema: {
        tags: ['Customers'],
        summary: 'Erase a customer',
        description:
          'Irreversible. Redacts the customer’s address and name(s) in every ticket, message, cc list, audit entry, stored event and received-mail record of their brand, deletes their attachments (with the raw mails that carried them) from the blob store, re-indexes their tickets for search, cancels replies to them not yet mailed, and keeps the customer as a tombstone with `erased_at`. Each changed ticket gets a new version and a `customer.erased` audit entry (who and when, not what); a `customer.erased` event carries the id and counts. `dry_run=true` answers the same counts and changes nothing; a customer erased already answers `erased: true` with zero counts. See docs/api.md#erasing-a-customer for what it does not reach (backups, PostgreSQL old row versions, object versions).',
        params: CustomerParams,
        querystring: Type.Object(
          { dry_run: Type.Optional(Type.Boolean({ default: false, description: 'true: only count what would be erased' })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Ref('ErasureResult'), ...errorResponses(400, 404) },
      },
    },
    async (request) => customers.erase(principalOf(request), request.params.customer_id, { dryRun: request.query.dry_run === true }),
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
