import type { Static } from 'typebox';
import type { AuditEntryRow, Db, DbOrTx, TicketRow } from '../db/schema.js';
import { type Transactions, transactionPerCall } from '../db/transactions.js';
import { type Principal, actorOf, canSeeBrand, systemActor } from '../auth/scopes.js';
import { requireVisibleBrand } from '../brands/visibility.js';
import { type CursorCodec, cursorId } from '../http/cursor.js';
import { type Page, type PageQuery, pageOf, readCursor } from '../http/pagination.js';
import { AppError, validationError } from '../http/problem.js';
import { type QueuePlacement, queuePlacement, routeTicket } from '../queues/service.js';
import { type Clock, parseInstant, toTimestamp } from '../shared/clock.js';
import { newId } from '../shared/ids.js';
import { toJsonText } from '../shared/json.js';
import { type TicketIndexer, recordChange } from './changes.js';
import {
  type AuditEntryView,
  type Changes,
  LIMITS,
  type Participant,
  type MessageView,
  type Origin,
  PRIORITY_RANK,
  type Priority,
  type TicketView,
  byteLength,
  checkMetadata,
  normalizeEmail,
  checkTags,
  normalizeTag,
  textLength,
  toTicketView,
} from './model.js';
import type { ListTicketsQuery } from './schemas.js';
import { type CreateMessageInput, type MessageAttachments, createMessageService, noAttachments } from './messages.js';
import { DetailCache } from './detail-cache.js';
import * as store from './store.js';
import { type UpdateTicketInput, diffTicketUpdate } from './update-diff.js';
import { getVisibleRow } from './visibility.js';
import { type TicketPeople, noPeople } from './people.js';

export type { AuditEntryView, Changes, Participant } from './model.js';
export type { TicketIndexer } from './changes.js';
export type { CreateMessageInput, MessageAttachments } from './messages.js';
export type { UpdateTicketInput } from './update-diff.js';
export type { TicketPeople } from './people.js';

export type CreatedTicket = TicketView & { queue: QueuePlacement; etag: string };

/** One ticket's outcome in a bulk change. */
export interface BulkResult {
  id: string;
  status: number;
  ticket: TicketView | null;
  error: { code: string; detail: string; errors?: { pointer: string; message: string }[] } | null;
}

/** A checked create, ready to write. */
interface CreatePlan {
  input: CreateTicketInput;
  subject: string;
  description: string;
  tags: string[];
  metadata: Record<string, unknown>;
  priority: Priority;
  origin: Origin;
  now: Date;
  actor: ReturnType<typeof actorOf>;
}

/** A bulk call's error about its i-th input: the pointers say which one (`/3/subject`). */
function atIndex(err: unknown, i: number): unknown {
  if (!(err instanceof AppError)) return err;
  const errors = err.errors?.map((e) => ({ ...e, pointer: `/${i}${e.pointer}` }));
  return new AppError(err.code, `Ticket ${i} of the batch: ${err.message}`, { ...(errors ? { errors } : {}), headers: err.headers });
}

export interface CreateTicketInput {
  brand_id: string;
  subject: string;
  description?: string | undefined;
  customer: { email: string; name?: string | null | undefined };
  priority?: Priority | undefined;
  tags?: string[] | undefined;
  origin?: Origin | undefined;
  metadata?: Record<string, unknown> | undefined;
  assigned_to?: string | null | undefined;
}

export interface TicketDetail extends TicketView {
  queue: QueuePlacement;
  messages: MessageView[];
  participants: Participant[];
  audit_trail: AuditEntryView[];
}

export interface TicketServiceDeps {
  /** How writes are committed: group commit on SQLite; one transaction each when absent. */
  transactions?: Transactions;
  db: Db;
  clock: Clock;
  indexer?: TicketIndexer | undefined;
  attachments?: MessageAttachments | undefined;
  /** Signs and checks pagination cursors. */
  cursors: CursorCodec;
  /** Agents (who may be assigned) and customers (kept with every write); none: any assignee, no customers. */
  people?: TicketPeople | undefined;
}

/** `"v<version>"`: changes whenever anything in the ticket's representation changes. */
export const etagOf = (row: Pick<TicketRow, 'version'>): string => `"v${row.version}"`;

/** A 412 unless the client's If-Match header (when sent) names the ticket's current ETag, or `*`. */
function checkIfMatch(row: TicketRow, ifMatch: string | undefined): void {
  if (ifMatch === undefined) return;
  const etags = ifMatch.split(',').map((t) => t.trim().replace(/^W\//, ''));
  if (!etags.includes('*') && !etags.includes(etagOf(row))) {
    throw new AppError('precondition_failed', `The ticket has changed; its current ETag is ${etagOf(row)}`);
  }
}

/** The ticket half of the API: create, read, list, update, reply (composing the message service), and the snooze clock. */
export function createTicketService(deps: TicketServiceDeps) {
  const { db, clock, cursors } = deps;
  const attachments = deps.attachments ?? noAttachments;
  const transactions = deps.transactions ?? transactionPerCall(db);
  const people = deps.people ?? noPeople;
  const messageService = createMessageService({ db, clock, cursors, transactions, attachments, indexer: deps.indexer, people });
  const { messageViews } = messageService;
  const details = new DetailCache();

  /** Customer, assignee, agents who replied, cc'd addresses: each email once, with its first role in that order. */
  function participantsOf(row: TicketRow, messages: MessageView[]): Participant[] {
    const out = new Map<string, Participant>();
    const add = (email: string | null | undefined, name: string | null, role: Participant['role']) => {
      if (!email) return;
      const key = email.toLowerCase();
      if (!out.has(key)) out.set(key, { email: key, name, role });
      else if (name && !out.get(key)!.name) out.get(key)!.name = name;
    };
    add(row.customer_email, row.customer_name, 'customer');
    add(row.assigned_to, null, 'assignee');
    for (const m of messages) if (m.author_type === 'agent') add(m.author?.email, m.author?.name ?? null, 'agent');
    // Other people who wrote in as customers: a colleague in the thread, or the customer of a ticket merged into this one.
    for (const m of messages) if (m.author_type === 'customer') add(m.author?.email, m.author?.name ?? null, 'customer');
    for (const m of messages) for (const cc of m.cc) add(cc, null, 'cc');
    return [...out.values()];
  }

  const toAuditView = (r: AuditEntryRow): AuditEntryView => ({
    id: r.id,
    action: r.action,
    actor: { type: r.actor_type, id: r.actor_id, name: r.actor_name },
    changes: JSON.parse(r.changes) as Changes,
    created_at: r.created_at,
  });

  /** Everything `create` decides before it writes: checked input, normalised, with its time and actor. */
  function planCreate(principal: Principal, input: CreateTicketInput): CreatePlan {
    const subject = input.subject.trim();
    if (!subject) throw validationError('/subject', 'must not be blank');
    const description = input.description ?? '';
    if (byteLength(description) > LIMITS.descriptionMaxBytes) {
      throw validationError('/description', `must be at most ${LIMITS.descriptionMaxBytes} bytes`);
    }
    const tags = checkTags(input.tags ?? [], '/tags');
    const metadata = input.metadata ?? {};
    checkMetadata(metadata);
    return {
      input,
      subject,
      description,
      tags,
      metadata,
      priority: input.priority ?? 'normal',
      origin: input.origin ?? 'api',
      now: clock.now(),
      actor: actorOf(principal),
    };
  }

  /** Writes one planned ticket in `trx`: routed, with its first message, audit entry, events and index entry. */
  async function writeCreate(trx: DbOrTx, plan: CreatePlan): Promise<{ created: CreatedTicket; row: TicketRow }> {
    const { input, subject, description, tags, metadata, priority, origin, now, actor } = plan;
    const at = toTimestamp(now);
    if (input.assigned_to) await people.checkAssignee(trx, input.brand_id, input.assigned_to, '/assigned_to');
    const queue = await routeTicket(trx, input.brand_id, { tags, priority, origin });
    const row = await store.insertTicket(
      trx,
      {
        id: newId('tick', now.getTime()),
        brand_id: input.brand_id,
        queue_id: queue.id,
        subject,
        description,
        status: 'open',
        priority,
        priority_rank: PRIORITY_RANK[priority],
        assigned_to: input.assigned_to ? normalizeEmail(input.assigned_to) : null,
        tags: toJsonText(tags),
        origin,
        customer_email: normalizeEmail(input.customer.email),
        customer_name: input.customer.name?.trim() || null,
        metadata: toJsonText(metadata),
        snoozed_until: null,
        first_response_at: null,
        version: 1,
        created_at: at,
        updated_at: at,
        merged_into: null,
      },
      tags,
    );
    if (description) {
      await store.insertMessage(trx, {
        id: newId('msg', now.getTime()),
        ticket_id: row.id,
        author_type: 'customer',
        author_email: row.customer_email,
        author_name: row.customer_name,
        body: description,
        cc: '[]',
        created_at: at,
      });
    }
    const changes: Changes = {
      status: { from: null, to: 'open' },
      priority: { from: null, to: priority },
      queue_id: { from: null, to: queue.id },
    };
    if (row.assigned_to) changes.assigned_to = { from: null, to: row.assigned_to };
    if (tags.length) changes.tags = { from: null, to: tags };
    await recordChange(trx, deps.indexer, { action: 'ticket.created', ticket: row, actor, changes, at: now });
    return { created: { ...toTicketView(row), queue: await queuePlacement(trx, row), etag: etagOf(row) }, row };
  }

  return {
    /** Creates a ticket, its first customer message (the description), audit entry and event. */
    async create(principal: Principal, input: CreateTicketInput): Promise<CreatedTicket> {
      await requireVisibleBrand(db, principal, input.brand_id, '/brand_id');
      const plan = planCreate(principal, input);
      return transactions.run(async (trx) => {
        const { created, row } = await writeCreate(trx, plan);
        await people.ticketsCreated(trx, [row]);
        return created;
      });
    },

    /**
     * Creates many tickets in one transaction, each exactly as `create` would (routing, first
     * message, audit entry, events, search index): the bulk path for seeding and imports. Every
     * input is checked before anything is written; the first bad one fails the whole call with
     * its pointer prefixed by its index (`/3/subject`), and nothing is stored.
     */
    async createMany(principal: Principal, inputs: CreateTicketInput[]): Promise<CreatedTicket[]> {
      const plans: CreatePlan[] = [];
      for (const [i, input] of inputs.entries()) {
        try {
          await requireVisibleBrand(db, principal, input.brand_id, '/brand_id');
          plans.push(planCreate(principal, input));
        } catch (err) {
          throw atIndex(err, i);
        }
      }
      return transactions.run(async (trx) => {
        const created: CreatedTicket[] = [];
        const rows: TicketRow[] = [];
        for (const [i, plan] of plans.entries()) {
          try {
            const written = await writeCreate(trx, plan);
            created.push(written.created);
            rows.push(written.row);
          } catch (err) {
            throw atIndex(err, i);
          }
        }
        // One statement for the batch's customers, not one per ticket.
        await people.ticketsCreated(trx, rows);
        return created;
      });
    },

    /** The ticket with its queue placement, full conversation, participants and audit trail. */
    async get(principal: Principal | null, id: string): Promise<TicketDetail & { etag: string }> {
      const row = await getVisibleRow(db, principal, id);
      const cached = details.get(id, row.version);
      if (cached) {
        const { version: _version, ...detail } = cached;
        return { ...toTicketView(row), queue: await queuePlacement(db, row), ...detail, etag: etagOf(row) };
      }
      const [messageRows, linked, auditRows, queue] = await Promise.all([
        store.listMessages(db, id),
        attachments.listForTicket(db, id),
        store.listAuditEntries(db, id),
        queuePlacement(db, row),
      ]);
      const messages = await messageViews(db, messageRows, linked);
      const detail = { messages, participants: participantsOf(row, messages), audit_trail: auditRows.map(toAuditView) };
      if (linked.size === 0) details.set(id, { version: row.version, ...detail });
      return { ...toTicketView(row), queue, ...detail, etag: etagOf(row) };
    },

    async list(principal: Principal, query: Static<typeof ListTicketsQuery>): Promise<Page<TicketView>> {
      const { after, limit, ...filters } = query;
      let brandIds = principal.brandIds;
      if (filters.brand_id) brandIds = canSeeBrand(principal, filters.brand_id) ? [filters.brand_id] : [];
      const instant = (name: string, text: string | undefined) => {
        if (text === undefined) return undefined;
        const at = parseInstant(text);
        if (!at)
          throw new AppError('invalid_query', `${name} must be a date or an RFC 3339 date-time`, {
            errors: [{ pointer: name, message: 'must be a date or an RFC 3339 date-time' }],
          });
        return toTimestamp(at);
      };
      // A filter that normalises to nothing (`tag=%20`) would otherwise be dropped, listing everything.
      const queryText = (name: string, text: string | undefined, normalize: (t: string) => string, max: number) => {
        if (text === undefined) return undefined;
        const value = normalize(text);
        if (textLength(value) < 1 || textLength(value) > max) {
          const message = `must be 1-${max} characters after trimming`;
          throw new AppError('invalid_query', `${name} ${message}`, { errors: [{ pointer: name, message }] });
        }
        return value;
      };
      const beforeId = (await readCursor(cursors, 'tickets', filters, after, [cursorId('tick')]))?.[0];
      const rows = await store.listTickets(db, {
        brandIds,
        status: filters.status,
        priority: filters.priority,
        assigned_to: queryText('assigned_to', filters.assigned_to, normalizeEmail, 254),
        tag: queryText('tag', filters.tag, normalizeTag, LIMITS.tagMax),
        customer_email: queryText('customer_email', filters.customer_email, normalizeEmail, 254),
        created_after: instant('created_after', filters.created_after),
        created_before: instant('created_before', filters.created_before),
        beforeId,
        limit: limit + 1,
      });
      return pageOf(rows, limit, toTicketView, (last) => cursors.encode('tickets', filters, [last.id]));
    },

    /**
     * Partial update: only the fields present change. A request that changes nothing writes no
     * audit entry and no event. `ifMatch` is the client's If-Match header (412 when stale).
     */
    async update(
      principal: Principal,
      id: string,
      input: UpdateTicketInput,
      options: { ifMatch?: string | undefined } = {},
    ): Promise<TicketView & { queue: QueuePlacement; etag: string; changes: Changes }> {
      const now = clock.now();
      const at = toTimestamp(now);
      return transactions.run(async (trx) => {
        // Locked before it is read: concurrent updates (tags_add from two clients) apply one after the other.
        await store.lockTicket(trx, id);
        const row = await getVisibleRow(trx, principal, id);
        checkIfMatch(row, options.ifMatch);
        const { set, changes, tags } = diffTicketUpdate(row, input, now);
        if (set.assigned_to) await people.checkAssignee(trx, row.brand_id, set.assigned_to, '/assigned_to');
        if (Object.keys(changes).length === 0) {
          return { ...toTicketView(row), queue: await queuePlacement(trx, row), etag: etagOf(row), changes };
        }
        // A ticket whose routing inputs changed may belong in another queue now.
        if (set.priority || tags) {
          const queue = await routeTicket(trx, row.brand_id, {
            tags: tags ?? (JSON.parse(row.tags) as string[]),
            priority: set.priority ?? row.priority,
            origin: row.origin,
          });
          if (queue.id !== row.queue_id) {
            set.queue_id = queue.id;
            changes.queue_id = { from: row.queue_id, to: queue.id };
          }
        }
        set.version = row.version + 1;
        set.updated_at = at;
        const updated = await store.updateTicket(trx, row, set, tags);
        if (set.status) await people.ticketStatusChanged(trx, updated, row.status, set.status);
        await recordChange(trx, deps.indexer, { action: 'ticket.updated', ticket: updated, actor: actorOf(principal), changes, at: now });
        return { ...toTicketView(updated), queue: await queuePlacement(trx, updated), etag: etagOf(updated), changes };
      });
    },

    /**
     * The same change to up to 100 tickets, each exactly as `update` would make it: its own
     * transaction, audit entry and events. A ticket that is missing, of another brand or refuses
     * the change fails alone, with the problem PATCH would have answered; the rest are applied.
     * Duplicate ids are a 422 for the whole request, before anything is written.
     */
    async bulkUpdate(principal: Principal, ids: string[], change: UpdateTicketInput): Promise<BulkResult[]> {
      const seen = new Map<string, number>();
      for (const [i, id] of ids.entries()) {
        if (seen.has(id)) throw validationError(`/ids/${i}`, `repeats /ids/${seen.get(id)}`);
        seen.set(id, i);
      }
      const results: BulkResult[] = [];
      // One after the other: on PostgreSQL, concurrent updates of one queue's position tree could deadlock.
      for (const id of ids) {
        try {
          const { etag: _etag, changes: _changes, queue: _queue, ...ticket } = await this.update(principal, id, change);
          results.push({ id, status: 200, ticket, error: null });
        } catch (err) {
          if (!(err instanceof AppError) || err.status >= 500) throw err;
          results.push({ id, status: err.status, ticket: null, error: { code: err.code, detail: err.message, ...(err.errors ? { errors: err.errors } : {}) } });
        }
      }
      return results;
    },

    /**
     * Merges ticket `id` into `into`: its messages (with their attachments, and so its
     * participants) move to the target, and it is resolved with `merged_into` pointing there. Both
     * are audited (`ticket.merged`) and re-indexed in one transaction, so a search for the
     * source's conversation finds the target. 422 at /into for the ticket itself, one that is
     * missing, of another brand or merged already; 409 when the source was merged already.
     */
    async merge(principal: Principal, id: string, intoId: string): Promise<{ ticket: TicketView; into: TicketView; moved_messages: number }> {
      if (intoId === id) throw validationError('/into', 'must be another ticket than the one merged');
      const now = clock.now();
      const at = toTimestamp(now);
      const actor = actorOf(principal);
      return transactions.run(async (trx) => {
        // Both locked, in one order whoever merges which way, so two crossing merges cannot deadlock.
        for (const lock of [id, intoId].sort()) await store.lockTicket(trx, lock);
        const source = await getVisibleRow(trx, principal, id);
        const target = await store.findTicket(trx, intoId);
        if (!target || !canSeeBrand(principal, target.brand_id)) throw validationError('/into', `ticket ${intoId} does not exist`);
        if (source.merged_into) throw new AppError('conflict', `Ticket ${id} was merged into ${source.merged_into} already`);
        if (target.merged_into) throw validationError('/into', `ticket ${intoId} was merged into ${target.merged_into}; merge into that one`);
        if (target.brand_id !== source.brand_id) throw validationError('/into', `ticket ${intoId} is of another brand`);

        const moved = await store.moveConversation(trx, source.id, target.id);
        const sourceChanges: Changes = { merged_into: { from: null, to: target.id } };
        const sourceSet: Partial<TicketRow> = { merged_into: target.id, version: source.version + 1, updated_at: at };
        if (source.status !== 'resolved') {
          sourceSet.status = 'resolved';
          sourceChanges.status = { from: source.status, to: 'resolved' };
        }
        if (source.snoozed_until) {
          sourceSet.snoozed_until = null;
          sourceChanges.snoozed_until = { from: source.snoozed_until, to: null };
        }
        const merged = await store.updateTicket(trx, source, sourceSet);
        if (sourceSet.status) await people.ticketStatusChanged(trx, merged, source.status, 'resolved');
        const grown = await store.updateTicket(trx, target, { version: target.version + 1, updated_at: at });
        await recordChange(trx, deps.indexer, { action: 'ticket.merged', ticket: merged, into: grown, actor, changes: sourceChanges, at: now });
        await recordChange(trx, deps.indexer, {
          action: 'ticket.merged',
          ticket: grown,
          actor,
          changes: { merged_from: { from: null, to: source.id } },
          at: now,
        });
        return { ticket: toTicketView(merged), into: toTicketView(grown), moved_messages: moved };
      });
    },

    /** Adds a message; a live one may reopen the ticket or record its first response (messages.ts). */
    addMessage(principal: Principal, ticketId: string, input: CreateMessageInput): Promise<MessageView> {
      return messageService.add(principal, ticketId, input);
    },

    /** The conversation, chronological and paginated (messages.ts). */
    listMessages(principal: Principal, ticketId: string, page: Static<typeof PageQuery>): Promise<Page<MessageView>> {
      return messageService.list(principal, ticketId, page);
    },

    async listAudit(principal: Principal, ticketId: string, page: Static<typeof PageQuery>): Promise<Page<AuditEntryView>> {
      await getVisibleRow(db, principal, ticketId);
      const afterId = (await readCursor(cursors, 'audit', { ticketId }, page.after, [cursorId('aud')]))?.[0];
      const rows = await store.listAuditEntries(db, ticketId, { afterId, limit: page.limit + 1 });
      return pageOf(rows, page.limit, toAuditView, (last) => cursors.encode('audit', { ticketId }, [last.id]));
    },

    /** Wakes every snoozed ticket whose snoozed_until has passed; returns how many woke. */
    async wakeSnoozedTickets(): Promise<number> {
      const now = clock.now();
      const at = toTimestamp(now);
      let woken = 0;
      for (;;) {
        const due = await store.listSnoozedDue(db, at, 100);
        if (due.length === 0) return woken;
        for (const row of due) {
          await transactions.run(async (trx) => {
            const fresh = await store.findTicket(trx, row.id);
            if (fresh?.status !== 'snoozed' || !fresh.snoozed_until || fresh.snoozed_until > at) return;
            const changes: Changes = { status: { from: 'snoozed', to: 'open' }, snoozed_until: { from: fresh.snoozed_until, to: null } };
            const set = { status: 'open', snoozed_until: null, version: fresh.version + 1, updated_at: at };
            const woke = await store.updateTicket(trx, fresh, set);
            await people.ticketStatusChanged(trx, woke, 'snoozed', 'open');
            await recordChange(trx, deps.indexer, { action: 'ticket.woke_up', ticket: woke, actor: systemActor, changes, at: now });
            woken++;
          });
        }
      }
    },
  };
}

export type TicketService = ReturnType<typeof createTicketService>;
