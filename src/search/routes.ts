import { principalOf } from '../http/auth.js';
import { type App, errorResponses } from '../http/types.js';
import { SearchBody, SearchResponse } from './schemas.js';
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
}
