import { Readable } from 'node:stream';
import { Type } from 'typebox';
import { principalOf } from '../http/auth.js';
import { type App, DateOrTimestamp, errorResponses } from '../http/types.js';
import type { ExportService } from './service.js';

export const ExportTicketsQuery = Type.Object(
  {
    brand_id: Type.Optional(Type.String({ description: 'Only this brand; one outside the token’s brands exports nothing' })),
    since: Type.Optional({ ...DateOrTimestamp, description: 'Only tickets updated at or after this instant (a date or an RFC 3339 date-time)' }),
  },
  { additionalProperties: false },
);

export function exportRoutes(app: App, exports: ExportService): void {
  app.get(
    '/v1/exports/tickets.jsonl',
    {
      config: { scope: 'admin', brands: 'filter' },
      schema: {
        tags: ['Exports'],
        operationId: 'exportTickets',
        summary: 'Export every ticket as JSON Lines',
        description:
          'Streams one JSON object per line for every ticket the token may see, oldest first: the ticket as GET /v1/tickets/{id} shows it (without its queue placement) plus `brand_name`, with every message, the participants, the audit trail and attachment references (id, file name, content type, size, SHA-256; never the bytes). Memory stays flat however many tickets there are; a reader that stops reading pauses the export. A response cut short (a server error mid-stream) ends without its final chunk, which HTTP clients report as an error. See docs/export-import.md.',
        querystring: ExportTicketsQuery,
        response: {
          200: {
            description: 'One ticket per line (application/x-ndjson)',
            content: { 'application/x-ndjson': { schema: Type.String({ description: 'JSON Lines: one exported ticket per line' }) } },
          },
          ...errorResponses(400),
        },
      },
    },
    async (request, reply) => {
      // Planned before the first byte: a bad query is a problem response, not a broken stream.
      const plan = exports.plan(principalOf(request), { brandId: request.query.brand_id, since: request.query.since });
      const stream = Readable.from(exports.jsonl(plan), { objectMode: false });
      stream.on('error', (err) => request.log.error({ err }, 'export stream failed'));
      return reply
        .header('Content-Type', 'application/x-ndjson; charset=utf-8')
        .header('Content-Disposition', 'attachment; filename="tickets.jsonl"')
        .header('Cache-Control', 'no-store')
        .send(stream as unknown as string);
    },
  );
}
