import type { Db, ViewRow } from '../db/schema.js';
import { type Principal, canSeeBrand } from '../auth/scopes.js';
import { requireVisibleBrand } from '../brands/visibility.js';
import type { Page } from '../http/pagination.js';
import { AppError, notFound, validationError } from '../http/problem.js';
import { type Clock, toTimestamp } from '../shared/clock.js';
import { newId } from '../shared/ids.js';
import { fromJsonText, toJsonText } from '../shared/json.js';
import type { TicketView } from '../tickets/model.js';
import type { TicketSort } from '../tickets/schemas.js';
import * as ticketCounts from '../tickets/count-store.js';
import { type TicketListFilterQuery, parseTicketListFilters } from '../tickets/filters.js';
import * as viewCounts from './count-store.js';
import * as store from './store.js';

/** The most views one brand, or one agent, may have: what a token can see stays a short list, and its counts one request. */
export const MAX_VIEWS_PER_OWNER = 100;

export const BUILTIN_VIEW_IDS = ['view_mine', 'view_unassigned', 'view_all_open', 'view_pending', 'view_snoozed'] as const;
export type BuiltinViewId = (typeof BUILTIN_VIEW_IDS)[number];

export interface ViewView {
  id: string;
  name: string;
  builtin: boolean;
  brand_id: string | null;
  agent_id: string | null;
  filters: TicketListFilterQuery;
  sort: TicketSort | null;
  created_at: string | null;
  updated_at: string | null;
}

export interface ViewCount {
  view_id: string;
  count: number;
  exact: boolean;
}

export interface CreateViewInput {
  name: string;
  brand_id?: string | undefined;
  agent_id?: string | undefined;
  filters?: TicketListFilterQuery | undefined;
  sort?: TicketSort | null | undefined;
}

export interface UpdateViewInput {
  name?: string | undefined;
  filters?: TicketListFilterQuery | undefined;
  sort?: TicketSort | null | undefined;
}

/** The ticket list, as views page through it (the ticket service's `list`). */
export interface ViewTicketLister {
  list(
    principal: Principal,
    query: TicketListFilterQuery & { sort?: TicketSort | undefined; limit: number; after?: string | undefined },
  ): Promise<Page<TicketView>>;
}

const UNRESOLVED_WORKING = 'open,pending';

/** The built-in views, as `principal` sees them: Mine names its agent's address. */
function builtinViews(principal: Principal): ViewView[] {
  const view = (id: BuiltinViewId, name: string, filters: TicketListFilterQuery): ViewView => ({
    id,
    name,
    builtin: true,
    brand_id: null,
    agent_id: null,
    filters,
    sort: null,
    created_at: null,
    updated_at: null,
  });
  const me = principal.agent?.email;
  return [
    view('view_mine', 'Mine', me ? { status: UNRESOLVED_WORKING, assigned_to: me } : { status: UNRESOLVED_WORKING }),
    view('view_unassigned', 'Unassigned', { status: UNRESOLVED_WORKING, unassigned: true }),
    view('view_all_open', 'All open', { status: 'open' }),
    view('view_pending', 'Pending', { status: 'pending' }),
    view('view_snoozed', 'Snoozed', { status: 'snoozed' }),
  ];
}

const isBuiltin = (id: string): id is BuiltinViewId => (BUILTIN_VIEW_IDS as readonly string[]).includes(id);

function toView(row: ViewRow): ViewView {
  return {
    id: row.id,
    name: row.name,
    builtin: false,
    brand_id: row.brand_id,
    agent_id: row.agent_id,
    filters: fromJsonText<TicketListFilterQuery>(row.filters, {}),
    sort: (row.sort as TicketSort | null) ?? null,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** A brand's view: to tokens that can see the brand; an agent's: to tokens of that agent only. */
function canSeeView(principal: Principal, row: ViewRow): boolean {
  if (row.brand_id !== null) return canSeeBrand(principal, row.brand_id);
  return row.agent_id !== null && principal.agent?.id === row.agent_id;
}

/**
 * The query a view's tickets are listed and counted with: its filters, within its brand. A
 * brand's view is kept inside its brand even when the brand is left out of the filters.
 */
function queryOf(view: ViewView): TicketListFilterQuery {
  return view.brand_id ? { ...view.filters, brand_id: view.brand_id } : view.filters;
}

/**
 * Saved ticket filters (issue 15): built-in views everyone has, and views of a brand or of one
 * agent. A view's tickets are the ticket list under its filters and the token's brands; the counts
 * of every view a token sees come in one request, cheap enough to poll: built-in ones from the
 * ticket counters (src/tickets/count-store.ts), custom ones from counters per view and brand that
 * every ticket write moves (src/views/count-store.ts).
 */
export function createViewService(deps: { db: Db; clock: Clock; tickets: ViewTicketLister }) {
  const { db, clock } = deps;

  /** The filters, checked as the ticket list checks its query: a problem there is a 422 here, at /filters/<name>. */
  async function checkFilters(principal: Principal, filters: TicketListFilterQuery, brandId: string | null): Promise<void> {
    try {
      parseTicketListFilters(principal, filters);
    } catch (err) {
      if (err instanceof AppError && err.code === 'invalid_query') {
        const e = err.errors?.[0];
        throw validationError(`/filters/${e?.pointer ?? ''}`, e?.message ?? err.message);
      }
      throw err;
    }
    if (filters.brand_id !== undefined) {
      await requireVisibleBrand(db, principal, filters.brand_id, '/filters/brand_id');
      if (brandId !== null && filters.brand_id !== brandId) throw validationError('/filters/brand_id', `must be the view's own brand, ${brandId}, or left out`);
    }
  }

  function checkName(name: string): string {
    const trimmed = name.trim();
    if (!trimmed) throw validationError('/name', 'must not be blank');
    return trimmed;
  }

  async function getVisibleRow(principal: Principal, id: string): Promise<ViewRow> {
    const row = await store.findView(db, id);
    if (!row || !canSeeView(principal, row)) throw notFound('View', id);
    return row;
  }

  const refuseBuiltin = (id: string) => new AppError('conflict', `${id} is a built-in view: it cannot be changed or deleted`);

  async function getView(principal: Principal, id: string): Promise<ViewView> {
    if (isBuiltin(id)) return builtinViews(principal).find((v) => v.id === id)!;
    return toView(await getVisibleRow(principal, id));
  }

  return {
    /**
     * Saves a view of a brand (`brand_id`: any token that can see the brand sees it) or of the
     * calling token's agent (`agent_id`, which must be that agent: only its tokens see it). Filters
     * are the ticket list's query parameters, checked the same way (422 at /filters/…).
     */
    async create(principal: Principal, input: CreateViewInput): Promise<ViewView> {
      const name = checkName(input.name);
      if (input.brand_id !== undefined && input.agent_id !== undefined) {
        throw validationError('/agent_id', 'a view belongs to a brand or to an agent, not both: send brand_id or agent_id');
      }
      if (input.brand_id !== undefined) await requireVisibleBrand(db, principal, input.brand_id, '/brand_id');
      else if (input.agent_id === undefined) throw validationError('/brand_id', 'is required, unless agent_id makes the view personal');
      else if (principal.agent?.id !== input.agent_id) {
        throw validationError('/agent_id', principal.agent ? `must be ${principal.agent.id}, the agent of this token` : 'this token belongs to no agent');
      }
      const filters = input.filters ?? {};
      await checkFilters(principal, filters, input.brand_id ?? null);
      const at = toTimestamp(clock.now());
      const row: ViewRow = {
        id: newId('view'),
        brand_id: input.brand_id ?? null,
        agent_id: input.brand_id === undefined ? input.agent_id! : null,
        name,
        filters: toJsonText(filters),
        sort: input.sort ?? null,
        created_at: at,
        updated_at: at,
      };
      await db.transaction().execute(async (trx) => {
        // Counted with ticket writes held off: none can land between the count and the view's first write.
        await viewCounts.holdTicketWrites(trx);
        const owner = row.brand_id !== null ? { brand_id: row.brand_id } : { agent_id: row.agent_id! };
        if ((await store.countViewsOf(trx, owner)) >= MAX_VIEWS_PER_OWNER) {
          throw new AppError('conflict', `${row.brand_id ?? row.agent_id} has ${MAX_VIEWS_PER_OWNER} views already, the most allowed; delete one first`);
        }
        await store.insertView(trx, row);
        await viewCounts.recountView(trx, row);
      });
      return toView(row);
    },

    /** The built-in views first, then the brand's and the agent's own, oldest first. */
    async list(principal: Principal): Promise<ViewView[]> {
      const rows = await store.listViews(db, principal.brandIds, principal.agent?.id ?? null);
      return [...builtinViews(principal), ...rows.map(toView)];
    },

    get: getView,

    /** Renames or re-filters a view; `filters` replaces the whole set, `sort: null` restores newest first. Built-in views: 409. */
    async update(principal: Principal, id: string, input: UpdateViewInput): Promise<ViewView> {
      if (isBuiltin(id)) throw refuseBuiltin(id);
      const row = await getVisibleRow(principal, id);
      const set: Partial<ViewRow> = {};
      if (input.name !== undefined) set.name = checkName(input.name);
      if (input.filters !== undefined) {
        await checkFilters(principal, input.filters, row.brand_id);
        set.filters = toJsonText(input.filters);
      }
      if (input.sort !== undefined) set.sort = input.sort;
      set.updated_at = toTimestamp(clock.now());
      if (set.filters === undefined) {
        await store.updateView(db, id, set);
      } else {
        await db.transaction().execute(async (trx) => {
          await viewCounts.holdTicketWrites(trx);
          await store.updateView(trx, id, set);
          await viewCounts.recountView(trx, { ...row, ...set });
        });
      }
      return toView({ ...row, ...set });
    },

    /** Deletes a view; built-in views: 409. */
    async remove(principal: Principal, id: string): Promise<void> {
      if (isBuiltin(id)) throw refuseBuiltin(id);
      await getVisibleRow(principal, id);
      await db.transaction().execute(async (trx) => {
        await viewCounts.holdTicketWrites(trx);
        await store.deleteView(trx, id);
        await viewCounts.deleteViewCounts(trx, id);
      });
    },

    /**
     * A page of the view's tickets: the ticket list (GET /v1/tickets) with the view's filters and
     * sort, within the token's brands, paged the same way. Mine, for a token without an agent, is
     * empty. A cursor names the filters it was made under: one from before the view changed is a 400.
     */
    async tickets(principal: Principal, id: string, page: { limit: number; after?: string | undefined }): Promise<Page<TicketView>> {
      const view = await getView(principal, id);
      if (view.id === 'view_mine' && !principal.agent) return { data: [], next_cursor: null };
      const query = { ...queryOf(view), ...(view.sort ? { sort: view.sort } : {}), limit: page.limit, ...(page.after ? { after: page.after } : {}) };
      return deps.tickets.list(principal, query);
    },

    /**
     * The ticket count of every view the token sees, in `list`'s order, all exact. Built-in views:
     * sums of the ticket counters of the token's brands (the work grows with brands × assignees).
     * Custom views: sums of their counters over the token's brands (src/views/count-store.ts; the
     * work grows with views × brands). Never a count over the tickets, so a poll costs the same
     * right after a write as between writes, at any number of tickets.
     */
    async counts(principal: Principal): Promise<ViewCount[]> {
      const views = await this.list(principal);
      const me = principal.agent?.email ?? null;
      const builtin = await ticketCounts.builtinCounts(db, principal.brandIds, me);
      const custom = await viewCounts.viewCounts(
        db,
        views.filter((v) => !v.builtin).map((v) => v.id),
        principal.brandIds,
      );
      return views.map((view) => {
        if (!view.builtin) return { view_id: view.id, count: custom.get(view.id) ?? 0, exact: true };
        const count = {
          view_mine: builtin.mine,
          view_unassigned: builtin.unassigned,
          view_all_open: builtin.open,
          view_pending: builtin.pending,
          view_snoozed: builtin.snoozed,
        }[view.id as BuiltinViewId];
        return { view_id: view.id, count, exact: true };
      });
    },
  };
}

export type ViewService = ReturnType<typeof createViewService>;
