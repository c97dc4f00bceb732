import type { Static } from 'typebox';
import type { Db, DbOrTx, MessageRow, TicketRow } from '../db/schema.js';
import type { Transactions } from '../db/transactions.js';
import { type Principal, actorOf } from '../auth/scopes.js';
import { type CursorCodec, cursorId, cursorTimestamp } from '../http/cursor.js';
import { type Page, type PageQuery, pageOf, readCursor } from '../http/pagination.js';
import { AppError, notFound, validationError } from '../http/problem.js';
import { type Clock, parseInstant, toTimestamp } from '../shared/clock.js';
import { newId } from '../shared/ids.js';
import { toJsonText } from '../shared/json.js';
import { type TicketIndexer, recordChange } from './changes.js';
import { type AuthorType, type Changes, LIMITS, type MessageView, type Visibility, byteLength, normalizeEmail, toMessageView } from './model.js';
import * as store from './store.js';
import { getVisibleRow } from './visibility.js';
import type { TicketPeople } from './people.js';

/** Links attachments to messages and lists them; the attachments module provides the real one. */
export interface MessageAttachments {
  /**
   * Checks, by reading only, that the ids can be linked to a new message of a ticket of `brandId`
   * (`ticketId` when the ticket exists); throws a 422 AppError naming each offending id (pointer
   * `/attachments/i`). `principal` is the caller: an attachment it could not read cannot be linked
   * either. Called before the message is written, so a refused message writes nothing: on SQLite a
   * unit that fails after writing makes its whole group-commit batch run again.
   */
  check(trx: DbOrTx, input: { principal: Principal; brandId: string; ticketId?: string | undefined; attachmentIds: string[] }): Promise<void>;
  /** Checks again and links; the same 422 when a concurrent writer took one meanwhile (PostgreSQL). */
  link(trx: DbOrTx, input: { principal: Principal; ticket: TicketRow; messageId: string; attachmentIds: string[]; at: string }): Promise<void>;
  listFor(db: DbOrTx, messageIds: string[]): Promise<Map<string, unknown[]>>;
  /** The same for every message of the ticket, in one query. */
  listForTicket(db: DbOrTx, ticketId: string): Promise<Map<string, unknown[]>>;
}

/** For a service wired without the attachments module: no message has any, and linking one is a 422. */
export const noAttachments: MessageAttachments = {
  async check(_trx, { attachmentIds }) {
    if (attachmentIds.length) throw validationError('/attachments', 'attachments are not supported yet');
  },
  async link(trx, input) {
    await this.check(trx, { ...input, brandId: input.ticket.brand_id });
  },
  async listFor() {
    return new Map();
  },
  async listForTicket() {
    return new Map();
  },
};

/**
 * E-mails agents' public messages to the customer; the email module provides the real one
 * (src/email/outbound.ts). Without one, nothing is e-mailed.
 */
export interface MessageMailer {
  /** The Message-ID (no angle brackets) the message will go out with; undefined when outbound mail is off. */
  messageIdFor(ticket: TicketRow, messageId: string): string | undefined;
  /** Puts the message in the outbox, in the message's transaction: it is sent after the commit, never inside the request. */
  enqueue(trx: DbOrTx, entry: { ticket_id: string; message_id: string; at: string }): Promise<void>;
}

/** What a received e-mail adds to the message it becomes (src/email/inbound.ts). */
export interface MessageEmailFields {
  /** Its Message-ID header, without angle brackets; null when it had none. */
  message_id: string | null;
  /** The whole text when `body` is trimmed of quoted history or a signature. */
  full_body: string | null;
}

/** Runs in the message's transaction, so that what it records commits with the message or not at all. */
/** Merges a mail reply follows before giving up: merges chain only when a target is merged later. */
const MAX_MERGE_HOPS = 10;

/**
 * The 409 for a write to a merged ticket (`merged_into` set): it is kept, readable and findable,
 * but its conversation and fields are closed; writes go to the ticket it was merged into.
 */
export function mergedTicketConflict(row: Pick<TicketRow, 'id' | 'merged_into'>): AppError {
  return new AppError('conflict', `Ticket ${row.id} was merged into ${row.merged_into} and takes no more changes or messages; write to ${row.merged_into}`);
}

export type MessageWriteHook = (trx: DbOrTx, message: MessageView, ticket: TicketRow) => Promise<void>;

export interface CreateMessageInput {
  author_type: AuthorType;
  visibility?: Visibility | undefined;
  /** Only for a message made from a received e-mail. */
  email?: MessageEmailFields | undefined;
  body: string;
  cc?: string[] | undefined;
  author?: { email?: string | undefined; name?: string | null | undefined } | undefined;
  created_at?: string | undefined;
  attachments?: string[] | undefined;
}

/** What a live message does to its ticket: a customer reopens it (waking a snooze), an agent's first reply is recorded. */
function sideEffectsOfMessage(row: TicketRow, author: AuthorType, visibility: Visibility, at: Date): { set: Partial<TicketRow>; changes: Changes } {
  const set: Partial<TicketRow> = {};
  const changes: Changes = {};
  // An internal note is not an answer to the customer: it changes nothing about the ticket's state.
  if (visibility === 'internal') return { set, changes };
  if (author === 'customer' && row.status !== 'open') {
    set.status = 'open';
    changes.status = { from: row.status, to: 'open' };
    if (row.snoozed_until) {
      set.snoozed_until = null;
      changes.snoozed_until = { from: row.snoozed_until, to: null };
    }
  }
  if (author === 'agent' && !row.first_response_at) set.first_response_at = toTimestamp(at);
  return { set, changes };
}

export interface MessageServiceDeps {
  db: Db;
  clock: Clock;
  cursors: CursorCodec;
  transactions: Transactions;
  attachments: MessageAttachments;
  indexer: TicketIndexer | undefined;
  mailer: MessageMailer | undefined;
  people: TicketPeople;
}

/** The conversation of a ticket: adding a message, with what it does to the ticket, and reading them. */
export function createMessageService(deps: MessageServiceDeps) {
  const { db, clock, cursors, transactions, attachments } = deps;

  /** Message rows as the API shows them, with their attachments (read here unless `linked` has them). */
  async function messageViews(dbx: DbOrTx, rows: MessageRow[], linked?: Map<string, unknown[]>): Promise<MessageView[]> {
    linked ??= await attachments.listFor(
      dbx,
      rows.map((r) => r.id),
    );
    return rows.map((r) => toMessageView(r, linked.get(r.id) ?? []));
  }

  return {
    messageViews,

    /**
     * Adds a message. A live customer message reopens a pending, resolved or snoozed ticket; an
     * agent's first reply sets first_response_at. A message with an explicit created_at is an
     * import of history and has no status side-effects.
     */
    async add(principal: Principal, ticketId: string, input: CreateMessageInput, onWrite?: MessageWriteHook): Promise<MessageView> {
      if (!input.body.trim()) throw validationError('/body', 'must not be blank');
      const visibility = input.visibility ?? 'public';
      if (visibility === 'internal' && input.author_type !== 'agent') throw validationError('/visibility', 'only an agent message can be an internal note');
      if (byteLength(input.body) > LIMITS.bodyMaxBytes) throw validationError('/body', `must be at most ${LIMITS.bodyMaxBytes} bytes`);
      const cc = [...new Set((input.cc ?? []).map(normalizeEmail))];
      const now = clock.now();
      let createdAt = toTimestamp(now);
      const imported = input.created_at !== undefined;
      if (input.created_at !== undefined) {
        const at = parseInstant(input.created_at);
        if (!at) throw validationError('/created_at', 'must be an RFC 3339 date-time');
        if (at.getTime() > now.getTime() + 1000) throw validationError('/created_at', 'must not be in the future');
        createdAt = toTimestamp(at);
      }
      return transactions.run(async (trx) => {
        let row = await getVisibleRow(trx, principal, ticketId);
        if (row.merged_into) {
          // Mail answering a merged ticket's thread follows the merge, where the conversation now is;
          // a client writing to the merged ticket is told where to write instead.
          if (!input.email) throw mergedTicketConflict(row);
          for (let hops = 0; row.merged_into && hops < MAX_MERGE_HOPS; hops++) row = await getVisibleRow(trx, principal, row.merged_into);
          if (row.merged_into) throw mergedTicketConflict(row);
        }
        const targetId = row.id;
        let authorEmail = input.author?.email ? normalizeEmail(input.author.email) : null;
        let authorName = input.author?.name?.trim() || null;
        // A token that belongs to an agent writes as that agent, unless the body names an author itself.
        if (input.author_type === 'agent' && !authorEmail && principal.agent) {
          authorEmail = principal.agent.email;
          authorName ??= principal.agent.name;
        }
        if (input.author_type === 'customer' && !authorEmail) {
          authorEmail = row.customer_email;
          authorName ??= row.customer_name;
        }
        const attachmentIds = input.attachments ?? [];
        await attachments.check(trx, { principal, brandId: row.brand_id, ticketId: targetId, attachmentIds });
        const messageId = newId('msg', now.getTime());
        // A live public agent reply goes to the customer by mail (when outbound mail is on).
        const mailed = input.author_type === 'agent' && visibility === 'public' && !imported ? deps.mailer?.messageIdFor(row, messageId) : undefined;
        const messageRow: MessageRow = {
          id: messageId,
          ticket_id: targetId,
          author_type: input.author_type,
          author_email: authorEmail,
          author_name: authorName,
          body: input.body,
          cc: toJsonText(cc),
          created_at: createdAt,
          visibility,
          email_message_id: mailed ?? input.email?.message_id ?? null,
          full_body: input.email?.full_body ?? null,
          delivery_status: mailed ? 'queued' : null,
          delivery_attempts: 0,
          delivery_last_error: null,
        };
        await store.insertMessage(trx, messageRow);
        if (mailed) await deps.mailer!.enqueue(trx, { ticket_id: targetId, message_id: messageId, at: toTimestamp(now) });
        await attachments.link(trx, { principal, ticket: row, messageId, attachmentIds, at: createdAt });
        const { set, changes } = imported ? { set: {}, changes: {} as Changes } : sideEffectsOfMessage(row, input.author_type, visibility, now);
        set.version = row.version + 1;
        set.updated_at = toTimestamp(now);
        // Read back rather than taken from this body: an imported message may be dated before the latest one.
        if (visibility !== 'internal') set.last_message_preview = await store.lastMessagePreview(trx, ticketId);
        const updated = await store.updateTicket(trx, row, set);
        if (set.status) await deps.people.ticketStatusChanged(trx, updated, row.status, set.status);
        await deps.people.messageAdded(trx, updated, messageRow);
        const message = (await messageViews(trx, [messageRow]))[0]!;
        await recordChange(trx, deps.indexer, { action: 'message.created', ticket: updated, actor: actorOf(principal), changes, message, at: now });
        await onWrite?.(trx, message, updated);
        return message;
      });
    },

    /** One message of a ticket the principal can see; a 404 when either is missing or out of sight. */
    async get(principal: Principal, ticketId: string, messageId: string): Promise<MessageView> {
      await getVisibleRow(db, principal, ticketId);
      const row = await store.findMessage(db, ticketId, messageId);
      if (!row) throw notFound('Message', messageId);
      return (await messageViews(db, [row]))[0]!;
    },

    /** Chronological (imports by their created_at), paginated. */
    async list(principal: Principal, ticketId: string, page: Static<typeof PageQuery>): Promise<Page<MessageView>> {
      await getVisibleRow(db, principal, ticketId);
      const after = await readCursor(cursors, 'messages', { ticketId }, page.after, [cursorTimestamp, cursorId('msg')]);
      const rows = await store.listMessages(db, ticketId, { after, limit: page.limit + 1 });
      const result = await pageOf(
        rows,
        page.limit,
        (r) => r,
        (last) => cursors.encode('messages', { ticketId }, [last.created_at, last.id]),
      );
      return { data: await messageViews(db, result.data), next_cursor: result.next_cursor };
    },
  };
}

export type MessageService = ReturnType<typeof createMessageService>;
