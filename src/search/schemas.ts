import { Type } from 'typebox';
import { Cursor, DateOrTimestamp, Email, Limit } from '../http/types.js';
import { PrioritySchema, StatusSchema } from '../tickets/schemas.js';

export const SearchFilters = Type.Object(
  {
    brand_id: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Only this brand (within the brands the token may see)' })),
    status: Type.Optional(StatusSchema),
    priority: Type.Optional(PrioritySchema),
    assigned_to: Type.Optional(Email),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 20, description: 'Tickets carrying every one of these tags' })),
    created_after: Type.Optional(DateOrTimestamp),
    created_before: Type.Optional(DateOrTimestamp),
  },
  { additionalProperties: false },
);

export const SearchBody = Type.Object(
  {
    query: Type.String({
      minLength: 1,
      maxLength: 1000,
      pattern: '\\S',
      description: 'Free text. Searched literally: operators, quotes and symbols have no special meaning.',
    }),
    filters: Type.Optional(SearchFilters),
    limit: Limit(100, 20),
    after: Type.Optional(Cursor),
    mode: Type.Optional(
      Type.Union([Type.Literal('hybrid'), Type.Literal('keyword'), Type.Literal('semantic')], {
        description: 'hybrid (default) fuses both sides; keyword or semantic use one side only',
      }),
    ),
  },
  { additionalProperties: false },
);

// A pair as OpenAPI 3.1 (JSON Schema 2020-12) spells a tuple: prefixItems, not draft-07 `items: [..]`.
const Range = Type.Unsafe<[number, number]>({
  type: 'array',
  prefixItems: [
    { type: 'integer', minimum: 0 },
    { type: 'integer', minimum: 0 },
  ],
  minItems: 2,
  maxItems: 2,
  description: '[start, end) offsets',
});

const Highlight = Type.Object({
  field: Type.Union([Type.Literal('subject'), Type.Literal('message')]),
  text: Type.String({ description: 'A fragment of the subject or of a message' }),
  ranges: Type.Array(Range, { description: '[start, end) of each matching word within text' }),
});

export const SearchHit = Type.Object({
  ticket: Type.Ref('Ticket'),
  score: Type.Number({ minimum: 0, maximum: 1, description: 'Relevance in [0, 1], comparable within one search (see docs/search.md)' }),
  highlights: Type.Optional(Type.Array(Highlight)),
  match: Type.Object({
    keyword: Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()], {
      description: 'Normalised keyword (BM25) component; null when the keyword side did not return the ticket',
    }),
    semantic: Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()], {
      description: 'Normalised semantic (embedding) component; null when the semantic side did not return the ticket',
    }),
  }),
});

export const SearchResponse = Type.Object({
  data: Type.Array(SearchHit),
  next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `after` for the next page; null on the last page' }),
});

export const SimilarQuery = Type.Object(
  { limit: Limit(50, 10) },
  { additionalProperties: false, description: 'Only `limit`: any other query parameter is refused (400 invalid_query).' },
);

export const SimilarTicket = Type.Object({
  ticket: Type.Ref('Ticket'),
  score: Type.Number({
    minimum: 0,
    maximum: 1,
    description: "Relevance in [0, 1] of a search with this ticket's text as the query; comparable within one response (see docs/search.md)",
  }),
  status: StatusSchema,
  match: SearchHit.properties.match,
});

export const SimilarResponse = Type.Object({
  data: Type.Array(SimilarTicket, { description: 'Best first; the ticket itself is never listed; empty when nothing is alike' }),
});
