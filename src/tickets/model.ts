import type { AuditEntryRow, MessageRow, TicketRow } from '../db/schema.js';
import { findJsonProblem } from '../http/input-guard.js';
import { validationError } from '../http/problem.js';
import { fromJsonText } from '../shared/json.js';
import { LIMITS } from '../shared/ticket-fields.js';

// The fields queues share with tickets are defined in shared/ticket-fields.ts; the ticket model includes them.
export {
  LIMITS,
  ORIGINS,
  PRIORITIES,
  PRIORITY_RANK,
  STATUSES,
  checkTags,
  normalizeTag,
  normalizeTags,
  textLength,
  toTicketView,
} from '../shared/ticket-fields.js';
export type { Origin, Priority, Status, TicketView } from '../shared/ticket-fields.js';

/** What a change did to a ticket, field by field: the audit entry and the events carry it. */
export type Changes = Record<string, { from: unknown; to: unknown }>;

export const AUTHOR_TYPES = ['agent', 'customer'] as const;

/** Who may see a message: `internal` notes are for agents only and never e-mailed. */
export const VISIBILITIES = ['public', 'internal'] as const;
export type Visibility = (typeof VISIBILITIES)[number];

export const DELIVERY_STATUSES = ['queued', 'sent', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** How the e-mail of an agent's public message to the customer fares (src/email/outbound.ts). */
export interface DeliveryView {
  status: DeliveryStatus;
  attempts: number;
  last_error: string | null;
}

export type AuthorType = (typeof AUTHOR_TYPES)[number];

export interface MessageView {
  id: string;
  ticket_id: string;
  author_type: AuthorType;
  author: { email: string | null; name: string | null } | null;
  body: string;
  cc: string[];
  attachments: unknown[];
  visibility: Visibility;
  /** Null for a message that is not e-mailed (a customer's, an internal note, or with outbound mail off). */
  delivery: DeliveryView | null;
  /** A received mail's whole text, when `body` has its quoted history or signature trimmed; else null. */
  full_body: string | null;
  created_at: string;
}

export function toMessageView(row: MessageRow, attachments: unknown[] = []): MessageView {
  return {
    id: row.id,
    ticket_id: row.ticket_id,
    author_type: row.author_type as AuthorType,
    author: row.author_email || row.author_name ? { email: row.author_email, name: row.author_name } : null,
    body: row.body,
    cc: fromJsonText<string[]>(row.cc, []),
    attachments,
    visibility: row.visibility as Visibility,
    delivery: row.delivery_status
      ? { status: row.delivery_status as DeliveryStatus, attempts: Number(row.delivery_attempts), last_error: row.delivery_last_error }
      : null,
    full_body: row.full_body,
    created_at: row.created_at,
  };
}

export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

export const byteLength = (text: string): number => Buffer.byteLength(text, 'utf8');

/** A 422 at the offending pointer when `metadata` is too deep or serializes to too many bytes. */
export function checkMetadata(metadata: Record<string, unknown>): void {
  // Depth first, without recursion: JSON.stringify below recurses and would overflow the stack.
  const problem = findJsonProblem(metadata, LIMITS.metadataMaxDepth, '/metadata');
  if (problem) throw validationError(problem.pointer, problem.message);
  if (byteLength(JSON.stringify(metadata)) > LIMITS.metadataMaxBytes) {
    throw validationError('/metadata', `must serialize to at most ${LIMITS.metadataMaxBytes} bytes of JSON`);
  }
}

export interface Participant {
  email: string;
  name: string | null;
  role: 'customer' | 'assignee' | 'agent' | 'cc';
}

export interface AuditEntryView {
  id: string;
  action: string;
  actor: { type: string; id: string | null; name: string; agent: { id: string; name: string } | null };
  changes: Changes;
  created_at: string;
}

/** Customer, assignee, agents who replied, cc'd addresses: each email once, with its first role in that order. */
export function participantsOf(row: TicketRow, messages: MessageView[]): Participant[] {
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

export const toAuditView = (r: AuditEntryRow): AuditEntryView => ({
  id: r.id,
  action: r.action,
  actor: {
    type: r.actor_type,
    id: r.actor_id,
    name: r.actor_name,
    agent: r.actor_agent_id ? { id: r.actor_agent_id, name: r.actor_agent_name ?? '' } : null,
  },
  changes: JSON.parse(r.changes) as Changes,
  created_at: r.created_at,
});
