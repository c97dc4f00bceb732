import { Type } from 'typebox';
import { principalOf } from '../http/auth.js';
import { PageQuery } from '../http/pagination.js';
import { type App, errorResponses, pageSchema } from '../http/types.js';
import { CreateViewBody, UpdateViewBody, ViewCountSchema, ViewParams } from './schemas.js';
import type { ViewService } from './service.js';

const tags = ['Views'];

export function viewRoutes(app: App, views: ViewService): void {
  app.post(
    '/v1/views',
    {
      config: { scope: 'tickets:write', brands: 'body' },
      schema: {
        tags,
        summary: 'Save a view',
        description:
          'A view of a brand (`brand_id`: every token that can see the brand sees it) or a personal one (`agent_id`: the agent of the calling token; only tokens of that agent see it). `filters` are the query parameters of GET /v1/tickets, checked the same way (422 at /filters/…). At most 100 views per brand and per agent.',
        body: CreateViewBody,
        response: { 201: Type.Ref('View'), ...errorResponses(409, 422) },
      },
    },
    async (request, reply) => {
      const view = await views.create(principalOf(request), request.body);
      return reply.status(201).header('Location', `/v1/views/${view.id}`).send(view);
    },
  );

  app.get(
    '/v1/views',
    {
      config: { scope: 'tickets:read', brands: 'filter' },
      schema: {
        tags,
        summary: 'List the views the token sees',
        description:
          'The built-in views (Mine, Unassigned, All open, Pending, Snoozed, always in that order), then the views of the token’s brands and of its agent, oldest first. One page: their number is capped per brand and agent.',
        response: { 200: Type.Object({ data: Type.Array(Type.Ref('View')) }), ...errorResponses(400) },
      },
    },
    async (request) => ({ data: await views.list(principalOf(request)) }),
  );

  app.get(
    '/v1/views/counts',
    {
      config: { scope: 'tickets:read', brands: 'filter' },
      schema: {
        tags,
        summary: 'The ticket count of every view the token sees',
        description:
          'In the order of GET /v1/views, within the token’s brands; meant to be polled. Every view, built-in or custom, is summed from counters every ticket write keeps exact in its own transaction, at a cost that does not grow with the tickets; creating a view or changing its filters counts it once. Mine is 0 for a token without an agent.',
        response: { 200: Type.Object({ data: Type.Array(ViewCountSchema) }), ...errorResponses(400) },
      },
    },
    async (request) => ({ data: await views.counts(principalOf(request)) }),
  );

  app.get(
    '/v1/views/:view_id',
    {
      config: { scope: 'tickets:read', brands: 'resource' },
      schema: { tags, summary: 'Retrieve a view', params: ViewParams, response: { 200: Type.Ref('View'), ...errorResponses(404) } },
    },
    async (request) => views.get(principalOf(request), request.params.view_id),
  );

  app.patch(
    '/v1/views/:view_id',
    {
      config: { scope: 'tickets:write', brands: 'resource' },
      schema: {
        tags,
        summary: 'Update a view',
        description: 'Partial update: `filters` replaces the whole set; `sort: null` restores newest first. A built-in view cannot be changed (409).',
        params: ViewParams,
        body: UpdateViewBody,
        response: { 200: Type.Ref('View'), ...errorResponses(404, 409, 422) },
      },
    },
    async (request) => views.update(principalOf(request), request.params.view_id, request.body),
  );

  app.delete(
    '/v1/views/:view_id',
    {
      config: { scope: 'tickets:write', brands: 'resource' },
      schema: {
        tags,
        summary: 'Delete a view',
        description: 'A built-in view cannot be deleted (409).',
        params: ViewParams,
        response: { 204: Type.Null(), ...errorResponses(404, 409) },
      },
    },
    async (request, reply) => {
      await views.remove(principalOf(request), request.params.view_id);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/v1/views/:view_id/tickets',
    {
      config: { scope: 'tickets:read', brands: 'resource' },
      schema: {
        tags,
        summary: 'List the tickets of a view',
        description:
          'The ticket list (GET /v1/tickets) under the view’s filters and sort, within the token’s brands, paged the same way: pass next_cursor as `after`. A cursor from before the view was changed is a 400. Mine is empty for a token without an agent.',
        params: ViewParams,
        querystring: PageQuery,
        response: { 200: pageSchema(Type.Ref('Ticket')), ...errorResponses(400, 404) },
      },
    },
    async (request) => views.tickets(principalOf(request), request.params.view_id, request.query),
  );
}
