import type { Static } from 'typebox';
import type { Db, DbOrTx, TicketRow } from '../db/schema.js';
import { committedDataVersion } from '../db/prepared.js';
import { type Transactions, transactionPerCall } from '../db/transactions.js';
import { type Actor, type Principal, actorOf, canSeeBrand, systemActor } from '../auth/scopes.js';
import { requireVisibleBrand } from '../brands/visibility.js';
import { type CursorCodec, cursorId, cursorInteger, cursorTimestamp } from '../http/cursor.js';
import { type Page, type PageQuery, pageOf, readCursor } from '../http/pagination.js';
import { AppError, validationError } from '../http/problem.js';
import { type QueuePlacement, findTicketWithPlacement, placementOf, queuePlacement, routeTicket } from '../queues/service.js';
import { type Clock, toTimestamp } from '../shared/clock.js';
import { newId } from '../shared/ids.js';
import { toJsonText } from '../shared/json.js';
import { messagePreview } from '../shared/message-preview.js';
import { type TicketIndexer, recordChange } from './changes.js';
import { parseTicketListFilters } from './filters.js';
import * as representations from './representation-store.js';
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
  participantsOf,
  toAuditView,
  toTicketView,
} from './model.js';
import type { ListTicketsQuery } from './schemas.js';
import {
  type CreateMessageInput,
  type MessageAttachments,
  type MessageEmailFields,
  type MessageMailer,
  type MessageWriteHook,
  createMessageService,
  mergedTicketConflict,
  noAttachments,
} from './messages.js';
import * as store from './store.js';
import type { TicketOrder } from './store.js';
import { type UpdateTicketInput, diffTicketUpdate } from './update-diff.js';
import { getVisibleRow, visibleOrNotFound } from './visibility.js';
import { type HistoricTicketInput, HistoricTicketRejected, checkHistoricTicket, writeHistoricTicket } from './historic.js';
import { type TicketPeople, noPeople } from './people.js';

export type { AuditEntryView, Changes, Participant } from './model.js';
export type { TicketIndexer } from './changes.js';
export type { CreateMessageInput, MessageAttachments, MessageEmailFields, MessageMailer, MessageWriteHook } from './messages.js';
export type { UpdateTicketInput } from './update-diff.js';
export type { HistoricTicketInput, HistoricMessage, HistoricAuditEntry } from './historic.js';

export type CreatedTicket = TicketView & { queue: QueuePlacement; etag: string };

/** Runs in the transaction that writes a ticket, so that what it records commits with the ticket or not at all. */
export type TicketWriteHook = (trx: DbOrTx, created: CreatedTicket) => Promise<void>;
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
  principal: Principal;
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
  /** Only for a ticket made from a received e-mail: what its first message carries besides the description. */
  first_message?: { cc?: string[] | undefined; attachments?: string[] | undefined; email?: MessageEmailFields | undefined } | undefined;
}

/** What a ticket's detail holds besides its own fields and queue place: fixed for one version. */
export interface Conversation {
  messages: MessageView[];
  participants: Participant[];
  audit_trail: AuditEntryView[];
}

export interface TicketDetail extends TicketView, Conversation {
  queue: QueuePlacement;
}

/**
 * One read of a ticket: its fields and queue place, read now, and its conversation, which is the
 * same for as long as `version` stands. A caller that kept the conversation of this version (the
 * route keeps it serialized) need not load it again.
 */
export interface TicketRead {
  /** The ticket's own fields, built when asked for: a caller that keeps them serialized by version may never need them. */
  readonly view: TicketView;
  /** `view` with its queue placement. */
  readonly ticket: TicketView & { queue: QueuePlacement };
  queue: QueuePlacement;
  brandId: string;
  etag: string;
  version: number;
  /**
   * Loads the conversation. `reusable` is false when it carries attachment download URLs: they
   * are signed with an expiry at read time, so they belong to this read alone.
   */
  conversation(): Promise<Conversation & { reusable: boolean }>;
}

/** A ticket read from its stored JSON: the fields and conversation as the retrieve route writes them, and what goes around them. */
export interface StoredTicketRead {
  fields: string;
  conversation: string;
  queue: QueuePlacement;
  brandId: string;
  etag: string;
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
  /** E-mails agents' public replies (src/email/outbound.ts); none: nothing is e-mailed. */
  mailer?: MessageMailer | undefined;
  /** Agents (who may be assigned) and customers (kept with every write); none: any assignee, no customers. */
  people?: TicketPeople | undefined;
}

// Rows an upsert statement of stored JSON takes: each count up to it is one statement prepared once.
const REPRESENTATIONS_A_STATEMENT = 16;

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

/** The position values a ticket cursor holds in each order: the sort key(s), then the id. */
function positionOf(order: TicketOrder, row: store.TicketListKey): (string | number)[] {
  if (order === 'id_desc') return [row.id];
  // The list query read the keys of its order (store.listKeyColumns).
  if (order === 'created_at' || order === '-created_at') return [row.created_at!, row.id];
  return [row.updated_at!, Number(row.change_seq), row.id];
}

/** The ticket half of the API: create, read, list, update, reply (composing the message service), and the snooze clock. */
export function createTicketService(deps: TicketServiceDeps) {
  const { db, clock, cursors } = deps;
  const attachments = deps.attachments ?? noAttachments;
  const transactions = deps.transactions ?? transactionPerCall(db);
  const people = deps.people ?? noPeople;
  const messageService = createMessageService({ db, clock, cursors, transactions, attachments, indexer: deps.indexer, mailer: deps.mailer, people });
  const { messageViews } = messageService;

  /** A ticket the principal may see, without its conversation yet (see TicketRead). */
  async function readTicket(principal: Principal | null, id: string): Promise<TicketRead> {
    const found = await findTicketWithPlacement(db, id);
    const row = visibleOrNotFound(principal, id, found?.row);
    return ticketRead(row, found!.queue());
  }

  /** The TicketRead of a row and the queue place read with it. */
  function ticketRead(row: TicketRow, queue: QueuePlacement): TicketRead {
    const id = row.id;
    return {
      get view() {
        return toTicketView(row);
      },
      get ticket() {
        return { ...toTicketView(row), queue };
      },
      queue,
      brandId: row.brand_id,
      etag: etagOf(row),
      version: row.version,
      conversation: async () => {
        const [messageRows, linked, auditRows] = await Promise.all([
          store.listMessages(db, id),
          attachments.listForTicket(db, id),
          store.listAuditEntries(db, id),
        ]);
        const messages = await messageViews(db, messageRows, linked);
        return { messages, participants: participantsOf(row, messages), audit_trail: auditRows.map(toAuditView), reusable: linked.size === 0 };
      },
    };
  }

  /** Where a ticket list continues from, by `order`; a cursor of another order or other filters is a 400. */
  async function readTicketCursor(
    order: TicketOrder,
    filters: Record<string, unknown>,
    after: string | undefined,
  ): Promise<store.TicketListPosition | undefined> {
    if (order === 'id_desc') {
      const p = await readCursor(cursors, 'tickets', filters, after, [cursorId('tick')]);
      return p && { id: p[0] };
    }
    if (order === 'created_at' || order === '-created_at') {
      const p = await readCursor(cursors, 'tickets', filters, after, [cursorTimestamp, cursorId('tick')]);
      return p && { at: p[0], id: p[1] };
    }
    const p = await readCursor(cursors, 'tickets', filters, after, [cursorTimestamp, cursorInteger(0, Number.MAX_SAFE_INTEGER), cursorId('tick')]);
    return p && { at: p[0], changeSeq: p[1], id: p[2] };
  }

  /** A list query as the store takes it (one row more than the page, to know whether another follows), and its next cursor. */
  async function listRequest(principal: Principal, query: Static<typeof ListTicketsQuery>) {
    const { after, limit, ...filters } = query;
    const { sort: _sort, ...filterQuery } = filters;
    const order: TicketOrder = filters.sort ?? 'id_desc';
    const position = await readTicketCursor(order, filters, after);
    return {
      filters: { ...parseTicketListFilters(principal, filterQuery), order, after: position, limit: limit + 1 },
      limit,
      cursorOf: (last: store.TicketListKey) => cursors.encode('tickets', filters, positionOf(order, last)),
    };
  }

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
      principal,
    };
  }

  /** Writes one planned ticket in `trx`: routed, with its first message, audit entry, events and index entry. */
  async function writeCreate(trx: DbOrTx, plan: CreatePlan): Promise<{ created: CreatedTicket; row: TicketRow }> {
    const { input, subject, description, tags, metadata, priority, origin, now, actor } = plan;
    const at = toTimestamp(now);
    if (input.assigned_to) await people.checkAssignee(trx, input.brand_id, input.assigned_to, '/assigned_to');
    const attachmentIds = input.first_message?.attachments ?? [];
    await attachments.check(trx, { principal: plan.principal, brandId: input.brand_id, attachmentIds });
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
        // The description is the first message, the customer's.
        last_message_preview: messagePreview(description),
      },
      tags,
    );
    const first = input.first_message;
    if (description || first) {
      const messageId = newId('msg', now.getTime());
      await store.insertMessage(trx, {
        id: messageId,
        ticket_id: row.id,
        author_type: 'customer',
        author_email: row.customer_email,
        author_name: row.customer_name,
        body: description,
        cc: toJsonText([...new Set((first?.cc ?? []).map(normalizeEmail))]),
        created_at: at,
        email_message_id: first?.email?.message_id ?? null,
        full_body: first?.email?.full_body ?? null,
        delivery_status: null,
        delivery_last_error: null,
      });
      await attachments.link(trx, { principal: plan.principal, ticket: row, messageId, attachmentIds, at });
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
    async create(principal: Principal, input: CreateTicketInput, onWrite?: TicketWriteHook): Promise<CreatedTicket> {
      await requireVisibleBrand(db, principal, input.brand_id, '/brand_id');
      const plan = planCreate(principal, input);
      return transactions.run(async (trx) => {
        const { created, row } = await writeCreate(trx, plan);
        await people.ticketsCreated(trx, [row]);
        await onWrite?.(trx, created);
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

    /**
     * Writes historic tickets (an import: their own ids, timestamps, status and conversation) in one
     * transaction, each routed, indexed for search and audited as `create` does, but with no
     * webhook event unless `emitEvents`. Every input is checked first: one that breaks a limit is
     * returned in `rejected` with the reason and the rest are written; one whose id is taken
     * already is returned in `existing`. `within` runs in the same transaction after the writes,
     * so what the caller records about them commits with them or not at all.
     */
    async importMany(
      principal: Principal,
      inputs: HistoricTicketInput[],
      options: { emitEvents: boolean; source: string; actor?: Actor; within?: (trx: DbOrTx, written: TicketRow[]) => Promise<void> },
    ): Promise<{ written: TicketRow[]; rejected: { index: number; reason: string }[]; existing: number[] }> {
      const rejected: { index: number; reason: string }[] = [];
      const checked: { index: number; input: HistoricTicketInput }[] = [];
      for (const brandId of new Set(inputs.map((i) => i.brand_id))) await requireVisibleBrand(db, principal, brandId, '/brand_id');
      for (const [index, input] of inputs.entries()) {
        try {
          checked.push({ index, input: checkHistoricTicket(input) });
        } catch (err) {
          if (!(err instanceof HistoricTicketRejected)) throw err;
          rejected.push({ index, reason: err.message });
        }
      }
      const actor = options.actor ?? actorOf(principal);
      const now = clock.now();
      return transactions.run(async (trx) => {
        const written: TicketRow[] = [];
        const existing: number[] = [];
        for (const { index, input } of checked) {
          if (await store.findTicket(trx, input.id)) existing.push(index);
          else written.push(await writeHistoricTicket(trx, deps, input, { actor, now, emitEvents: options.emitEvents, source: options.source }));
        }
        // Imported customers are customers too: their counts include the historic tickets.
        await people.ticketsCreated(trx, written);
        await options.within?.(trx, written);
        return { written, rejected, existing };
      });
    },

    /** A ticket the principal may see, without its conversation yet (see TicketRead). */
    read: readTicket,

    /**
     * A number that stays the same exactly as long as nothing at all is committed to the database,
     * by this process or another: what `read` returns may be reused while it holds, provided it was
     * taken before the read. Undefined on PostgreSQL, which has no such number.
     */
    committedVersion: (): number | undefined => committedDataVersion(db),

    /**
     * A ticket the principal may see, for the retrieve route: its JSON stored for its current
     * version in `shape` (stored-representations.ts) with its queue place, read in one statement
     * (`stored`); when none is stored, the ticket as `read` returns it (`read`), its row read by
     * key and its place the one that statement read, which holds while the row is of the version
     * the statement saw (else both are read again). A 404 as `read` gives one.
     */
    async retrieve(
      principal: Principal | null,
      id: string,
      shape: string,
    ): Promise<{ stored: StoredTicketRead; read?: undefined } | { stored?: undefined; read: TicketRead }> {
      const found = await representations.findStoredTicket(db, id, shape);
      const head = visibleOrNotFound(principal, id, found?.ticket);
      const queue = placementOf(head, found!.queueName, found!.waitingBefore);
      if (found!.stored) return { stored: { brandId: head.brand_id, etag: etagOf(head), queue, ...found!.stored } };
      const row = await store.findTicket(db, id);
      return { read: row?.version === head.version ? ticketRead(row, queue) : await readTicket(principal, id) };
    },

    /** A step of a sweep over every ticket for those whose JSON is not stored (`representations.findUnstoredTickets`). */
    findUnstored: (after: string, shape: string, limit: number) => representations.findUnstoredTickets(db, after, shape, limit),

    /** Stores tickets' JSON in one transaction; a row whose version is no longer its ticket's is left out (migration 0024). */
    async saveRepresentations(rows: representations.StoredRepresentation[]): Promise<void> {
      await transactions.run(async (trx) => {
        for (let i = 0; i < rows.length; i += REPRESENTATIONS_A_STATEMENT)
          await representations.saveRepresentations(trx, rows.slice(i, i + REPRESENTATIONS_A_STATEMENT));
      });
    },

    /** A ticket with its whole conversation. */
    async get(principal: Principal | null, id: string): Promise<TicketDetail & { etag: string }> {
      const { ticket, etag, conversation } = await readTicket(principal, id);
      const { reusable: _reusable, ...detail } = await conversation();
      return { ...ticket, ...detail, etag };
    },

    /**
     * A page of the tickets the principal can see. Without `sort`, newest first by id; `sort`
     * orders by creation or last update (keyset on the key, then id). In update order a ticket
     * written while a client pages moves after every row it has read, so a walk sees each ticket
     * that did not change exactly once and each one that did again, as it is now (docs/sync.md).
     */
    async list(principal: Principal, query: Static<typeof ListTicketsQuery>): Promise<Page<TicketView>> {
      const { filters, limit, cursorOf } = await listRequest(principal, query);
      return pageOf(await store.listTickets(db, filters), limit, toTicketView, cursorOf);
    },

    /**
     * The page `list` returns, as each ticket's id and version, for a caller that keeps the items
     * serialized by version (the list route): `load` reads the tickets it does not have.
     */
    async listKeys(
      principal: Principal,
      query: Static<typeof ListTicketsQuery>,
    ): Promise<Page<Pick<TicketRow, 'id' | 'version'>> & { load(ids: readonly string[]): Promise<{ version: number; ticket: TicketView }[]> }> {
      const { filters, limit, cursorOf } = await listRequest(principal, query);
      const page = await pageOf(await store.listTicketKeys(db, filters), limit, (k) => ({ id: k.id, version: Number(k.version) }), cursorOf);
      return {
        ...page,
        load: async (ids) => (await store.findTickets(db, ids)).map((row) => ({ version: Number(row.version), ticket: toTicketView(row) })),
      };
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
        if (row.merged_into) throw mergedTicketConflict(row);
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
        // The source keeps no message to preview; the target's latest may now be one of the source's.
        const sourceSet: Partial<TicketRow> = { merged_into: target.id, last_message_preview: null, version: source.version + 1, updated_at: at };
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
        const grown = await store.updateTicket(trx, target, {
          last_message_preview: await store.lastMessagePreview(trx, target.id),
          version: target.version + 1,
          updated_at: at,
        });
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
    addMessage(principal: Principal, ticketId: string, input: CreateMessageInput, onWrite?: MessageWriteHook): Promise<MessageView> {
      return messageService.add(principal, ticketId, input, onWrite);
    },

    /** One message of the conversation (messages.ts). */
    getMessage(principal: Principal, ticketId: string, messageId: string): Promise<MessageView> {
      return messageService.get(principal, ticketId, messageId);
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
