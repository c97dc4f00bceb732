import type { Static } from 'typebox';
import { type Principal, canSeeBrand } from '../auth/scopes.js';
import type { TicketRow } from '../db/schema.js';
import { AppError } from '../http/problem.js';
import { parseInstant, toTimestamp } from '../shared/clock.js';
import type { TicketCountFilters } from './count-store.js';
import { LIMITS, normalizeEmail, normalizeTag, textLength } from './model.js';
import { type ListTicketsQuery, MAX_FILTER_VALUES } from './schemas.js';

/*
 * The ticket list's filters, parsed and checked: the ticket list (GET /v1/tickets), the views'
 * listings and counts (src/views) and the views' maintained counters share them, so a filter means
 * the same wherever it is given. No storage here: the ticket store and the view counters both use it.
 */

/** A 400 invalid_query naming the parameter. */
const invalidQuery = (name: string, message: string) => new AppError('invalid_query', `${name} ${message}`, { errors: [{ pointer: name, message }] });

/** A date filter as a stored instant; the schema has checked its form. */
function instant(name: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const at = parseInstant(text);
  if (!at) throw invalidQuery(name, 'must be a date or an RFC 3339 date-time');
  return toTimestamp(at);
}

/** A text filter, normalised; one that normalises to nothing (`tag=%20`) would otherwise be dropped, listing everything. */
function queryText(name: string, text: string | undefined, normalize: (t: string) => string, max: number): string | undefined {
  if (text === undefined) return undefined;
  const value = normalize(text);
  if (textLength(value) < 1 || textLength(value) > max) throw invalidQuery(name, `must be 1-${max} characters after trimming`);
  return value;
}

const unique = (values: string[]): string[] | undefined => (values.length ? [...new Set(values)].sort() : undefined);

/**
 * The values of a multi-value filter: sent once or repeated (`tag=a&tag=b`), each split at commas
 * when `split`, normalised, de-duplicated and sorted (so that `a,b` and `b,a` share a prepared
 * query). An empty value is a 400, as is more than MAX_FILTER_VALUES of them.
 */
function listFilter(
  name: string,
  sent: string | string[] | undefined,
  how: { split: boolean; normalize: (t: string) => string; max?: number },
): string[] | undefined {
  if (sent === undefined) return undefined;
  const values = [sent].flat().flatMap((text) => (how.split ? text.split(',') : [text]));
  const out = values.map((text) => queryText(name, text, how.normalize, how.max ?? 254)!);
  if (out.length > MAX_FILTER_VALUES) throw invalidQuery(name, `takes at most ${MAX_FILTER_VALUES} values`);
  return unique(out);
}

/** The ticket list's query without its order and page: what a view saves (src/views). */
export type TicketListFilterQuery = Omit<Static<typeof ListTicketsQuery>, 'sort' | 'limit' | 'after'>;

/** A ticket list's conditions but its brands: what a view's filters mean, whoever asks. */
export type TicketConditions = Omit<TicketCountFilters, 'brandIds'>;

/**
 * The ticket list's filters as the store applies them, parsed and checked (400 `invalid_query`
 * naming the parameter), within the principal's brands: the ticket list and views share it, so a
 * filter means the same wherever it is given.
 */
export function parseTicketListFilters(principal: Principal, filters: TicketListFilterQuery): TicketCountFilters {
  let brandIds = principal.brandIds;
  if (filters.brand_id) brandIds = canSeeBrand(principal, filters.brand_id) ? [filters.brand_id] : [];
  return { brandIds, ...parseTicketConditions(filters) };
}

/** The conditions of `filters` but `brand_id`, parsed and checked as `parseTicketListFilters` does. */
export function parseTicketConditions(filters: TicketListFilterQuery): TicketConditions {
  if (filters.unassigned === true && filters.assigned_to !== undefined) throw invalidQuery('unassigned', 'cannot be true with assigned_to');
  return {
    statuses: listFilter('status', filters.status, { split: true, normalize: (t) => t }),
    priority: filters.priority,
    assigned_to: queryText('assigned_to', filters.assigned_to, normalizeEmail, 254),
    unassigned: filters.unassigned,
    // `tag` is matched whole (a tag may hold a comma); `tags` is a comma-separated list.
    tagsAll: unique([
      ...(listFilter('tag', filters.tag, { split: false, normalize: normalizeTag, max: LIMITS.tagMax }) ?? []),
      ...(listFilter('tags', filters.tags, { split: true, normalize: normalizeTag, max: LIMITS.tagMax }) ?? []),
    ]),
    tagsAny: listFilter('tags_any', filters.tags_any, { split: true, normalize: normalizeTag, max: LIMITS.tagMax }),
    customer_email: queryText('customer_email', filters.customer_email, normalizeEmail, 254),
    created_after: instant('created_after', filters.created_after),
    created_before: instant('created_before', filters.created_before),
    updated_after: instant('updated_after', filters.updated_after),
    updated_before: instant('updated_before', filters.updated_before),
  };
}

/** The fields of a ticket row the conditions read (`tags`: its JSON array, as stored). */
export type MatchedTicket = Pick<TicketRow, 'status' | 'priority' | 'assigned_to' | 'tags' | 'customer_email' | 'created_at' | 'updated_at'>;

/**
 * Whether a ticket row meets the conditions, decided in code exactly as the store's SQL decides it
 * (`ticketsMatching` in count-store.ts, `listTickets`): equal strings for equality, code-unit order for the instants
 * (the stored timestamps are one fixed ISO form). The views' counters (src/views/count-store.ts)
 * move a ticket by this test of its row before and after a write; a consistency test checks it
 * against the SQL on both dialects.
 */
export function ticketMatches(c: TicketConditions, t: MatchedTicket): boolean {
  // Every condition is named here: one the list gains fails to compile until it is matched too.
  const {
    statuses,
    priority,
    assigned_to,
    unassigned,
    tagsAll,
    tagsAny,
    customer_email,
    created_after,
    created_before,
    updated_after,
    updated_before,
    ...rest
  } = c;
  const none: Record<string, never> = rest;
  void none;
  if (statuses?.length && !statuses.includes(t.status)) return false;
  if (priority && t.priority !== priority) return false;
  if (assigned_to && t.assigned_to !== assigned_to) return false;
  if (unassigned === true && t.assigned_to !== null) return false;
  if (unassigned === false && t.assigned_to === null) return false;
  if (customer_email && t.customer_email !== customer_email) return false;
  if (created_after && !(t.created_at > created_after)) return false;
  if (created_before && !(t.created_at < created_before)) return false;
  if (updated_after && !(t.updated_at > updated_after)) return false;
  if (updated_before && !(t.updated_at < updated_before)) return false;
  if (tagsAll?.length || tagsAny?.length) {
    const tags = JSON.parse(t.tags) as string[];
    if (tagsAll?.some((tag) => !tags.includes(tag))) return false;
    if (tagsAny?.length && !tagsAny.some((tag) => tags.includes(tag))) return false;
  }
  return true;
}
