import type { DbOrTx, MessageRow, TicketRow } from '../db/schema.js';
import { type Actor, auditActorColumns } from '../auth/scopes.js';
import { recordEvent } from '../events/outbox.js';
import { AppError } from '../http/problem.js';
import { routeTicket } from '../queues/service.js';
import { parseInstant, toTimestamp } from '../shared/clock.js';
import { isId, newId } from '../shared/ids.js';
import { toJsonText } from '../shared/json.js';
import { messagePreview } from '../shared/message-preview.js';
import type { TicketIndexer } from './changes.js';
import {
  type AuthorType,
  type Changes,
  LIMITS,
  type MessageView,
  type Origin,
  PRIORITY_RANK,
  type Priority,
  STATUSES,
  type Status,
  VISIBILITIES,
  type Visibility,
  byteLength,
  checkMetadata,
  checkTags,
  normalizeEmail,
  textLength,
  toMessageView,
  toTicketView,
} from './model.js';
import * as store from './store.js';

/*
 * Tickets as another system (or an earlier NexusCore) recorded them: their own timestamps, status,
 * conversation and, from our own export, audit trail. `tickets.importMany` writes them; unlike a
 * create, nothing here is "now" except the import's own audit entry.
 */

export interface HistoricMessage {
  /** A msg_ id; the import derives it from the source's id so that a rerun names it the same. */
  id: string;
  author_type: AuthorType;
  author: { email: string | null; name: string | null } | null;
  body: string;
  cc: string[];
  /** `internal`: a note for agents only (a source's private comment); only an agent's message may be one. Default public. */
  visibility?: Visibility | undefined;
  created_at: string;
}

export interface HistoricAuditEntry {
  id: string;
  action: string;
  actor: { type: string; id: string | null; name: string; agent?: { id: string; name: string } | null | undefined };
  changes: Changes;
  created_at: string;
}

export interface HistoricTicketInput {
  /** A tick_ id: kept from our own export, derived from the source's id otherwise. */
  id: string;
  brand_id: string;
  subject: string;
  description: string;
  status: Status;
  priority: Priority;
  origin: Origin;
  tags: string[];
  customer: { email: string; name: string | null };
  assigned_to: string | null;
  metadata: Record<string, unknown>;
  snoozed_until?: string | null | undefined;
  /** When absent: the first agent message's time, if any. */
  first_response_at?: string | null | undefined;
  created_at: string;
  updated_at: string;
  /** Chronological or not: they are stored with their own times, and read back in time order. */
  messages: HistoricMessage[];
  /** Our own export's audit trail, kept as it was. Absent: one `ticket.imported` entry by the importer. */
  audit_trail?: HistoricAuditEntry[] | undefined;
}

/** Why an input was not written; the import reports it per source record. */
export class HistoricTicketRejected extends Error {}

const reject = (why: string): never => {
  throw new HistoricTicketRejected(why);
};

function instant(text: string | null | undefined, what: string): string {
  const at = text ? parseInstant(text) : undefined;
  if (!at) reject(`${what} is not an RFC 3339 date-time (${JSON.stringify(text ?? null)})`);
  return toTimestamp(at!);
}

/**
 * Checks one historic ticket against the same limits as the API (subject, description, tags,
 * metadata, message bodies, cc lists) and normalises it the same way (emails and tags lower-cased,
 * instants to the wire format). Throws HistoricTicketRejected saying why.
 */
export function checkHistoricTicket(input: HistoricTicketInput): HistoricTicketInput {
  if (!isId('tick', input.id)) reject(`ticket id ${input.id} is not a tick_ id`);
  const subject = input.subject.trim();
  if (!subject) reject('the subject is blank');
  if (textLength(subject) > LIMITS.subjectMax) reject(`the subject is longer than ${LIMITS.subjectMax} characters`);
  if (byteLength(input.description) > LIMITS.descriptionMaxBytes) reject(`the description is larger than ${LIMITS.descriptionMaxBytes} bytes`);
  if (!(STATUSES as readonly string[]).includes(input.status)) reject(`unknown status ${input.status}`);
  const email = normalizeEmail(input.customer.email);
  if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 254) reject(`the customer email ${JSON.stringify(input.customer.email)} is not an address`);
  let tags: string[] = [];
  let metadata: Record<string, unknown> = {};
  try {
    tags = checkTags(input.tags, '/tags');
    checkMetadata(input.metadata);
    metadata = input.metadata;
  } catch (err) {
    if (err instanceof AppError) reject(`${err.errors?.[0]?.pointer ?? ''} ${err.errors?.[0]?.message ?? err.message}`.trim());
    throw err;
  }
  const createdAt = instant(input.created_at, 'created_at');
  const updatedAt = instant(input.updated_at, 'updated_at');
  const messages = input.messages.map((m, i): HistoricMessage => {
    if (!isId('msg', m.id)) reject(`message ${i} id ${m.id} is not a msg_ id`);
    if (!m.body.trim()) reject(`message ${i} has a blank body`);
    if (byteLength(m.body) > LIMITS.bodyMaxBytes) reject(`message ${i} is larger than ${LIMITS.bodyMaxBytes} bytes`);
    const cc = [...new Set(m.cc.map(normalizeEmail))];
    if (cc.length > LIMITS.ccMax) reject(`message ${i} has more than ${LIMITS.ccMax} cc addresses`);
    const visibility = m.visibility ?? 'public';
    if (!(VISIBILITIES as readonly string[]).includes(visibility)) reject(`message ${i} has an unknown visibility ${JSON.stringify(visibility)}`);
    // The API's rule: a note for agents is written by an agent.
    if (visibility === 'internal' && m.author_type !== 'agent')
      reject(`message ${i} is an internal note by a customer (only an agent message can be internal)`);
    return {
      id: m.id,
      author_type: m.author_type,
      author: m.author ? { email: m.author.email ? normalizeEmail(m.author.email) : null, name: m.author.name?.trim() || null } : null,
      body: m.body,
      cc,
      visibility,
      created_at: instant(m.created_at, `message ${i} created_at`),
    };
  });
  const auditTrail = input.audit_trail?.map((a, i) => {
    if (!isId('aud', a.id)) reject(`audit entry ${i} id ${a.id} is not an aud_ id`);
    return { ...a, created_at: instant(a.created_at, `audit entry ${i} created_at`) };
  });
  // An internal note is not an answer to the customer, as for a live note.
  const firstAgent = messages
    .filter((m) => m.author_type === 'agent' && m.visibility !== 'internal')
    .sort((a, b) => a.created_at.localeCompare(b.created_at))[0];
  return {
    ...input,
    subject,
    customer: { email, name: input.customer.name?.trim() || null },
    assigned_to: input.assigned_to ? normalizeEmail(input.assigned_to) : null,
    tags,
    metadata,
    snoozed_until: input.status === 'snoozed' && input.snoozed_until ? instant(input.snoozed_until, 'snoozed_until') : null,
    first_response_at:
      input.first_response_at === undefined
        ? (firstAgent?.created_at ?? null)
        : input.first_response_at && instant(input.first_response_at, 'first_response_at'),
    created_at: createdAt,
    updated_at: createdAt.localeCompare(updatedAt) > 0 ? createdAt : updatedAt,
    messages,
    audit_trail: auditTrail,
  };
}

/**
 * The events `--emit-events` records for one imported ticket: what a live create followed by live
 * replies would have recorded, as far as history allows. `ticket.created`, then one
 * `ticket.message_created` per message in time order (internal notes included, marked by their
 * `visibility`, as live notes are), except the opening message: the earliest message, when it is
 * the customer's and the ticket has a description, is the description itself, which a live create
 * carries in `ticket.created` without a message event. Every payload carries the ticket as imported
 * (its final state: the source does not say what it was between messages), so no `ticket.updated`,
 * `ticket.status_changed` or `ticket.assigned` is made up; each message keeps its own `created_at`,
 * while the events are dated at the import.
 */
async function recordHistoricEvents(trx: DbOrTx, row: TicketRow, messages: MessageView[], now: Date): Promise<void> {
  const about = { brand_id: row.brand_id, ticket_id: row.id, at: now, created_at: toTimestamp(now) };
  const ticket = toTicketView(row);
  await recordEvent(trx, { ...about, type: 'ticket.created', data: { ticket } });
  const ordered = [...messages].sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
  const opening = ordered[0];
  const skip = row.description.trim() && opening?.author_type === 'customer' && opening.visibility === 'public' ? opening : undefined;
  for (const message of ordered) {
    if (message !== skip) await recordEvent(trx, { ...about, type: 'ticket.message_created', data: { ticket, message } });
  }
}

/** The preview of the latest message that is not an internal note, in the conversation's order (created_at, then id). */
function previewOf(messages: readonly HistoricMessage[]): string | null {
  let latest: HistoricMessage | undefined;
  for (const m of messages) {
    if (m.visibility === 'internal') continue;
    if (!latest || m.created_at > latest.created_at || (m.created_at === latest.created_at && m.id > latest.id)) latest = m;
  }
  return latest ? messagePreview(latest.body) : null;
}

/**
 * Writes one checked historic ticket in `trx`: routed to its brand's queue, with its messages, its
 * audit trail (or one `ticket.imported` entry by `actor` at `now`), the search index and, only
 * when `emitEvents`, the events of {@link recordHistoricEvents} for webhooks.
 */
export async function writeHistoricTicket(
  trx: DbOrTx,
  deps: { indexer?: TicketIndexer | undefined },
  input: HistoricTicketInput,
  options: { actor: Actor; now: Date; emitEvents: boolean; source: string },
): Promise<TicketRow> {
  const queue = await routeTicket(trx, input.brand_id, { tags: input.tags, priority: input.priority, origin: input.origin });
  const row = await store.insertTicket(
    trx,
    {
      id: input.id,
      brand_id: input.brand_id,
      queue_id: queue.id,
      subject: input.subject,
      description: input.description,
      status: input.status,
      priority: input.priority,
      priority_rank: PRIORITY_RANK[input.priority],
      assigned_to: input.assigned_to,
      tags: toJsonText(input.tags),
      origin: input.origin,
      customer_email: input.customer.email,
      customer_name: input.customer.name,
      metadata: toJsonText(input.metadata),
      snoozed_until: input.snoozed_until ?? null,
      first_response_at: input.first_response_at ?? null,
      version: 1,
      created_at: input.created_at,
      updated_at: input.updated_at,
      last_message_preview: previewOf(input.messages),
    },
    input.tags,
  );
  const messages: MessageView[] = [];
  for (const m of input.messages) {
    let authorEmail = m.author?.email ?? null;
    let authorName = m.author?.name ?? null;
    if (m.author_type === 'customer' && !authorEmail) {
      authorEmail = row.customer_email;
      authorName ??= row.customer_name;
    }
    const message: MessageRow = {
      id: m.id,
      ticket_id: row.id,
      author_type: m.author_type,
      author_email: authorEmail,
      author_name: authorName,
      body: m.body,
      cc: toJsonText(m.cc),
      visibility: m.visibility ?? 'public',
      email_message_id: null,
      full_body: null,
      delivery_status: null,
      delivery_attempts: 0,
      delivery_last_error: null,
      created_at: m.created_at,
    };
    await store.insertMessage(trx, message);
    if (options.emitEvents) messages.push(toMessageView(message));
  }
  const at = toTimestamp(options.now);
  if (input.audit_trail) {
    for (const a of input.audit_trail) {
      await store.insertAuditEntry(trx, {
        id: a.id,
        ticket_id: row.id,
        actor_type: a.actor.type,
        actor_id: a.actor.id,
        actor_name: a.actor.name,
        actor_agent_id: a.actor.agent?.id ?? null,
        actor_agent_name: a.actor.agent?.name ?? null,
        action: a.action,
        changes: toJsonText(a.changes),
        created_at: a.created_at,
      });
    }
  } else {
    await store.insertAuditEntry(trx, {
      id: newId('aud', options.now.getTime()),
      ticket_id: row.id,
      ...auditActorColumns(options.actor),
      action: 'ticket.imported',
      changes: toJsonText({
        source: { from: null, to: options.source },
        status: { from: null, to: row.status },
        created_at: { from: null, to: row.created_at },
      }),
      created_at: at,
    });
  }
  if (options.emitEvents) await recordHistoricEvents(trx, row, messages, options.now);
  await deps.indexer?.ticketChanged(trx, row.id);
  return row;
}
