import type { CustomerRow, Db, DbOrTx, TicketRow } from '../db/schema.js';
import { type Principal, actorOf, canSeeBrand } from '../auth/scopes.js';
import { type CursorCodec, cursorId } from '../http/cursor.js';
import { type Page, type PageQuery, pageOf, readCursor } from '../http/pagination.js';
import { AppError, notFound } from '../http/problem.js';
import { type Clock, toTimestamp } from '../shared/clock.js';
import { newId } from '../shared/ids.js';
import type { TicketService } from '../tickets/service.js';
import type { TicketPeople } from '../tickets/people.js';
import type { TicketView } from '../tickets/model.js';
import type { Static } from 'typebox';
import * as store from './store.js';
import { type CustomerErasure, type ErasureCounts, zeroCounts } from './erasure.js';

export interface CustomerView {
  id: string;
  brand_id: string;
  email: string;
  name: string | null;
  external_id: string | null;
  notes: string | null;
  ticket_count: number;
  open_ticket_count: number;
  last_activity_at: string;
  created_at: string;
  updated_at: string;
  /** Set once erased: the row is a tombstone (address `<id>@erased.invalid`, no name, notes or external id). */
  erased_at: string | null;
}

/** The answer of POST /v1/customers/{id}/erase. */
export interface ErasureResult {
  customer_id: string;
  /** Whether the customer is erased now (false only for a dry run of a customer not erased yet). */
  erased: boolean;
  dry_run: boolean;
  erased_at: string | null;
  counts: ErasureCounts;
}

export interface ListCustomersQuery {
  brand_id?: string | undefined;
  email?: string | undefined;
  q?: string | undefined;
  limit: number;
  after?: string | undefined;
}

export interface UpdateCustomerInput {
  name?: string | null | undefined;
  external_id?: string | null | undefined;
  notes?: string | null | undefined;
}

const toCustomerView = (row: CustomerRow): CustomerView => ({
  id: row.id,
  brand_id: row.brand_id,
  email: row.email,
  name: row.name,
  external_id: row.external_id,
  notes: row.notes,
  ticket_count: Number(row.ticket_count),
  open_ticket_count: Number(row.open_ticket_count),
  last_activity_at: row.last_activity_at,
  created_at: row.created_at,
  updated_at: row.updated_at,
  erased_at: row.erased_at ?? null,
});

/** A ticket counts as open for its customer until it is resolved: open, pending and snoozed all wait on someone. */
const isOpen = (status: string): boolean => status !== 'resolved';

const normalizeEmail = (email: string): string => email.trim().toLowerCase();

/**
 * Customers: one per brand and e-mail address, made by the first ticket or customer message from
 * that address. Their counts are kept by the ticket writes (`ledger`, in each write's
 * transaction), so reading them costs one row.
 */
/**
 * How many customers one `q` search reads before it answers: a substring match anywhere in three
 * fields has no index on either dialect, so the work of a request is bounded instead, and the cursor
 * carries the scan on.
 */
export const CUSTOMER_SCAN_ROWS = 5000;

export function createCustomerService(deps: { db: Db; clock: Clock; cursors: CursorCodec; tickets: Pick<TicketService, 'list'>; erasure: CustomerErasure }) {
  const { db, clock, cursors } = deps;

  async function getVisible(principal: Principal, id: string): Promise<CustomerRow> {
    const row = await store.findCustomer(db, id);
    if (!row || !canSeeBrand(principal, row.brand_id)) throw notFound('Customer', id);
    return row;
  }

  /** The customer side of ticket writes; the ticket service calls it inside each write's transaction. */
  const ledger: Omit<TicketPeople, 'checkAssignee'> = {
    async ticketsCreated(trx: DbOrTx, tickets: readonly TicketRow[]) {
      const tallies = new Map<string, store.CustomerTally>();
      for (const t of tickets) {
        const key = `${t.brand_id}\n${t.customer_email}`;
        const tally = tallies.get(key);
        if (!tally) {
          tallies.set(key, {
            id: newId('cus', Date.parse(t.created_at)),
            brand_id: t.brand_id,
            email: t.customer_email,
            name: t.customer_name,
            ticket_count: 1,
            open_ticket_count: isOpen(t.status) ? 1 : 0,
            last_activity_at: t.created_at,
            at: t.created_at,
          });
          continue;
        }
        tally.ticket_count++;
        if (isOpen(t.status)) tally.open_ticket_count++;
        tally.name ??= t.customer_name;
        if (t.created_at > tally.last_activity_at) tally.last_activity_at = t.created_at;
      }
      await store.addToCustomers(trx, [...tallies.values()]);
    },

    async ticketStatusChanged(trx, ticket, from, to) {
      if (isOpen(from) === isOpen(to)) return;
      await store.addToOpenCount(trx, ticket.brand_id, ticket.customer_email, isOpen(to) ? 1 : -1);
    },

    async messageAdded(trx, ticket, message) {
      const at = toTimestamp(clock.now());
      const tallies: store.CustomerTally[] = [
        {
          id: newId('cus'),
          brand_id: ticket.brand_id,
          email: ticket.customer_email,
          name: ticket.customer_name,
          ticket_count: 0,
          open_ticket_count: 0,
          last_activity_at: message.created_at,
          at,
        },
      ];
      // Someone else writing in as a customer (a colleague of the customer, a forwarded thread) becomes one too.
      if (message.author_type === 'customer' && message.author_email && message.author_email !== ticket.customer_email) {
        tallies.push({ ...tallies[0]!, id: newId('cus'), email: message.author_email, name: message.author_name });
      }
      await store.addToCustomers(trx, tallies);
    },
  };

  return {
    ledger,

    async get(principal: Principal, id: string): Promise<CustomerView> {
      return toCustomerView(await getVisible(principal, id));
    },

    /**
     * Newest first; `q` matches anywhere in the name, address or external id, regardless of case.
     * With `q` (and no `email`) one request reads at most CUSTOMER_SCAN_ROWS customers: a page may
     * then be short, or empty, with a `next_cursor` that scans on; null once the customers end.
     */
    async list(principal: Principal, query: ListCustomersQuery): Promise<Page<CustomerView>> {
      const { after, limit, ...filters } = query;
      let brandIds = principal.brandIds;
      if (filters.brand_id !== undefined) brandIds = canSeeBrand(principal, filters.brand_id) ? [filters.brand_id] : [];
      const q = filters.q?.trim().toLowerCase();
      if (filters.q !== undefined && !q) {
        throw new AppError('invalid_query', 'q must not be blank', { errors: [{ pointer: 'q', message: 'must not be blank' }] });
      }
      const beforeId = (await readCursor(cursors, 'customers', filters, after, [cursorId('cus')]))?.[0];
      const email = filters.email !== undefined ? normalizeEmail(filters.email) : undefined;
      // A text search no index serves reads a bounded window of customers per request (an exact email is indexed).
      const fromId = q !== undefined && email === undefined ? await store.scanBoundary(db, brandIds, beforeId, CUSTOMER_SCAN_ROWS) : undefined;
      const rows = await store.listCustomers(db, { brandIds, email, q, beforeId, fromId, limit: limit + 1 });
      const page = await pageOf(rows, limit, toCustomerView, (last) => cursors.encode('customers', filters, [last.id]));
      // Not full, but the window ended before the customers did: the next request scans on from there.
      if (page.next_cursor === null && fromId !== undefined) page.next_cursor = await cursors.encode('customers', filters, [fromId]);
      return page;
    },

    /** Changes `name`, `external_id` and `notes`; null clears one. The address and counts are not the client's to set. */
    async update(principal: Principal, id: string, input: UpdateCustomerInput): Promise<CustomerView> {
      const row = await getVisible(principal, id);
      if (row.erased_at) throw new AppError('conflict', `Customer ${id} was erased; an erased customer cannot be changed`);
      const set: Partial<CustomerRow> = {};
      const text = (value: string | null | undefined) => (value === undefined ? undefined : value === null ? null : value.trim() || null);
      const name = text(input.name);
      const externalId = text(input.external_id);
      if (name !== undefined) set.name = name;
      if (externalId !== undefined) set.external_id = externalId;
      if (input.notes !== undefined) set.notes = input.notes === null || input.notes.trim() === '' ? null : input.notes;
      if (Object.keys(set).length === 0) return toCustomerView(row);
      set.updated_at = toTimestamp(clock.now());
      await store.updateCustomer(db, id, set);
      return toCustomerView({ ...row, ...set });
    },

    /**
     * Erases the customer, irreversibly: their address and name(s) are redacted in every row of
     * their brand that holds them (tickets, messages, cc lists, audit entries, events, webhook
     * attempt records, received-mail records, kept Idempotency-Key answers), their files deleted
     * from the blob store, their tickets re-indexed for search, replies not yet mailed to them
     * cancelled; the row stays as a tombstone with `erased_at`. Each changed ticket gets a new
     * version and a `customer.erased` audit entry naming who did it (not what was erased); one
     * `customer.erased` event carries the id and counts. `dryRun` answers the same counts and
     * changes nothing. A customer erased already answers `erased: true` with zero counts.
     */
    async erase(principal: Principal, id: string, options: { dryRun: boolean }): Promise<ErasureResult> {
      const row = await getVisible(principal, id);
      const dryRun = options.dryRun;
      if (row.erased_at) {
        return { customer_id: id, erased: !!row.erased_at, dry_run: dryRun, erased_at: row.erased_at, counts: zeroCounts() };
      }
      if (dryRun) return { customer_id: id, erased: false, dry_run: true, erased_at: null, counts: await deps.erasure.dryRun(row) };
      const { counts, erased_at } = await deps.erasure.erase(row, actorOf(principal));
      return { customer_id: id, erased: true, dry_run: false, erased_at, counts };
    },

    /** The customer's tickets, newest first: the ticket list narrowed to their brand and address. */
    async listTickets(principal: Principal, id: string, page: Static<typeof PageQuery>): Promise<Page<TicketView>> {
      const row = await getVisible(principal, id);
      return deps.tickets.list(principal, {
        brand_id: row.brand_id,
        customer_email: row.email,
        limit: page.limit,
        ...(page.after ? { after: page.after } : {}),
      });
    },
  };
}

export type CustomerService = ReturnType<typeof createCustomerService>;
