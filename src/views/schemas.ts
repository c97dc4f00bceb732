import { type Static, Type } from 'typebox';
import { Timestamp } from '../http/types.js';
import { ListTicketsQuery, TICKET_SORTS, type TicketSort } from '../tickets/schemas.js';
import { BUILTIN_VIEW_IDS } from './service.js';

const Sort = Type.Unsafe<TicketSort>(
  Type.Enum([...TICKET_SORTS], { description: 'The order of the view’s tickets, as `sort` on GET /v1/tickets; null: newest first' }),
);

/** The ticket list's query parameters (GET /v1/tickets) but its order and page: the same names, values and multi-value rules. */
export const ViewFilters = Type.Omit(ListTicketsQuery, ['sort', 'limit', 'after'], {
  additionalProperties: false,
  description:
    'The filters of GET /v1/tickets, as its query parameters would carry them (status "open,pending" or ["open","pending"], tag, tags, tags_any, priority, assigned_to, unassigned, customer_email, brand_id, created_/updated_ after/before). A brand’s view keeps to its brand.',
});

/**
 * The filters as a response shows them: the same schema without the request-only `date-or-date-time`
 * format, which the response serializer does not know (the values were checked when saved).
 */
const ShownFilters = Type.Unsafe<Static<typeof ViewFilters>>(
  JSON.parse(JSON.stringify(ViewFilters), (key, value) => (key === 'format' && value === 'date-or-date-time' ? undefined : value)),
);

const Name = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' });
const ViewId = Type.String({ pattern: `^view_([0-9a-hjkmnp-tv-z]{26}|${BUILTIN_VIEW_IDS.map((id) => id.slice(5)).join('|')})$` });

export const ViewSchema = Type.Object(
  {
    id: ViewId,
    name: Type.String(),
    builtin: Type.Boolean({
      description: 'true for the views every token has (view_mine, view_unassigned, view_all_open, view_pending, view_snoozed): never changed nor deleted',
    }),
    brand_id: Type.Union([Type.String(), Type.Null()], { description: 'The brand whose tokens see the view; null for a built-in or an agent’s view' }),
    agent_id: Type.Union([Type.String(), Type.Null()], { description: 'The agent whose tokens alone see the view; null for a built-in or a brand’s view' }),
    filters: ShownFilters,
    sort: Type.Union([Sort, Type.Null()]),
    created_at: Type.Union([Timestamp, Type.Null()], { description: 'null for a built-in view' }),
    updated_at: Type.Union([Timestamp, Type.Null()], { description: 'null for a built-in view' }),
  },
  { $id: 'View' },
);

export const ViewParams = Type.Object({ view_id: Type.String({ description: 'A view id: view_… or a built-in one such as view_mine' }) });

export const CreateViewBody = Type.Object(
  {
    name: Name,
    brand_id: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'A brand’s view, seen by every token of the brand' })),
    agent_id: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'A personal view: the agent of the calling token (GET /v1/tokens/me), whose tokens alone see it',
      }),
    ),
    filters: Type.Optional(ViewFilters),
    sort: Type.Optional(Type.Union([Sort, Type.Null()])),
  },
  { additionalProperties: false },
);

export const UpdateViewBody = Type.Object(
  {
    name: Type.Optional(Name),
    filters: Type.Optional(ViewFilters),
    sort: Type.Optional(Type.Union([Sort, Type.Null()])),
  },
  { additionalProperties: false },
);

export const ViewCountSchema = Type.Object({
  view_id: Type.String(),
  count: Type.Integer({ minimum: 0 }),
  exact: Type.Boolean({
    description:
      'Always true: every view’s count, built-in or custom, is kept exact by the ticket writes themselves. Kept for clients written when a large custom view’s count could be a lower bound.',
  }),
});
