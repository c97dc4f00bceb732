import { principalOf } from '../http/auth.js';
import { type App, errorResponses } from '../http/types.js';
import { TicketIdParams } from '../tickets/schemas.js';
import { SearchBody, SearchResponse, SimilarQuery, SimilarResponse } from './schemas.js';
import type { SearchService } from './service.js';

export function searchRoutes(app: App, search: SearchService): void {
  app.post(
    '/v1/tickets/search',
    {
      config: { scope: 'tickets:read', brands: 'filter' },
      schema: {
        tags: ['Tickets'],
        summary: 'Search tickets',
        description:
          'Hybrid keyword (BM25) + semantic search over subject, messages, tags and customer. Results are sorted by `score` in [0, 1]; see docs/search.md.',
        body: SearchBody,
        response: { 200: SearchResponse, ...errorResponses(400, 422) },
      },
    },
    async (request) => search.search(principalOf(request), request.body),
  );

  app.get(
    '/v1/tickets/:ticket_id/similar',
    {
      config: { scope: 'tickets:read', brands: 'resource' },
      schema: {
        tags: ['Tickets'],
        summary: 'List similar tickets',
        description:
          "The tickets of the same brand most like this one (how was this answered before?), best first: a hybrid search with the ticket's subject, description and first customer messages as the query, the ticket itself left out. Each with its `score` in [0, 1] and `status`. 404 like a retrieve. See docs/search.md.",
        params: TicketIdParams,
        querystring: SimilarQuery,
        response: { 200: SimilarResponse, ...errorResponses(400, 404) },
      },
    },
    async (request) => search.similar(principalOf(request), request.params.ticket_id, { limit: request.query.limit }),
  );
}
