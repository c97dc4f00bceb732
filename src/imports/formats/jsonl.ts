import type { HistoricAuditEntry, HistoricMessage } from '../../tickets/service.js';
import { ORIGINS, PRIORITIES, STATUSES, type Origin, type Priority, type Status, type Visibility } from '../../tickets/model.js';
import { type MappedRecord, type MappingContext, isObject, text } from '../model.js';

/*
 * Our own export (GET /v1/exports/tickets.jsonl, `nexus export --format jsonl`): one ticket per line
 * with its messages and audit trail. Ids, timestamps and the audit trail are kept as they were, so
 * an export imported into an empty database reproduces the tickets.
 */

const oneOf = <T extends string>(values: readonly T[], v: unknown, fallback: T): T => ((values as readonly unknown[]).includes(v) ? (v as T) : fallback);

export function mapJsonlTicket(raw: unknown, ctx: MappingContext): MappedRecord {
  if (!isObject(raw)) return { kind: 'skip', externalId: null, reason: 'not a JSON object' };
  const id = text(raw.id);
  const brandId = text(raw.brand_id);
  const customer = isObject(raw.customer) ? raw.customer : null;
  if (!id || !brandId || !customer || !text(raw.created_at) || !Array.isArray(raw.messages)) {
    return { kind: 'skip', externalId: id, reason: 'not a ticket of a NexusCore export (id, brand_id, customer, created_at or messages missing)' };
  }
  const dropped: string[] = [];
  const messages: HistoricMessage[] = raw.messages.filter(isObject).map((m) => {
    if (Array.isArray(m.attachments) && m.attachments.length) dropped.push('attachment referenced but not imported (the export holds no bytes)');
    const author = isObject(m.author) ? { email: text(m.author.email), name: text(m.author.name) } : null;
    return {
      id: text(m.id) ?? '',
      author_type: m.author_type === 'agent' ? 'agent' : 'customer',
      author,
      body: text(m.body) ?? '',
      cc: Array.isArray(m.cc) ? m.cc.filter((c): c is string => typeof c === 'string') : [],
      // Passed on as written: the ticket check refuses a value that is neither public nor internal.
      visibility: m.visibility === undefined ? undefined : ((text(m.visibility) ?? '') as Visibility),
      created_at: text(m.created_at) ?? '',
    };
  });
  // An export's audit entry names the agent behind the token when there was one: kept as written.
  const agentOf = (v: unknown): { id: string; name: string } | null => {
    if (!isObject(v)) return null;
    const id = text(v.id);
    return id ? { id, name: text(v.name) ?? '' } : null;
  };
  const audit: HistoricAuditEntry[] = (Array.isArray(raw.audit_trail) ? raw.audit_trail : []).filter(isObject).map((a) => {
    const actor = isObject(a.actor) ? a.actor : {};
    return {
      id: text(a.id) ?? '',
      action: text(a.action) ?? 'unknown',
      actor: { type: text(actor.type) ?? 'system', id: text(actor.id), name: text(actor.name) ?? 'unknown', agent: agentOf(actor.agent) },
      changes: (isObject(a.changes) ? a.changes : {}) as HistoricAuditEntry['changes'],
      created_at: text(a.created_at) ?? '',
    };
  });
  const target = ctx.brandId ?? brandId;
  return {
    kind: 'ticket',
    externalId: id,
    brand: { id: target, name: text(raw.brand_name) ?? target },
    dropped,
    ticket: {
      id,
      brand_id: target,
      subject: text(raw.subject) ?? '',
      description: text(raw.description) ?? '',
      status: oneOf<Status>(STATUSES, raw.status, 'open'),
      priority: oneOf<Priority>(PRIORITIES, raw.priority, 'normal'),
      origin: oneOf<Origin>(ORIGINS, raw.origin, 'api'),
      tags: Array.isArray(raw.tags) ? raw.tags.filter((t): t is string => typeof t === 'string') : [],
      customer: { email: text(customer.email) ?? '', name: text(customer.name) },
      assigned_to: text(raw.assigned_to),
      metadata: isObject(raw.metadata) ? raw.metadata : {},
      snoozed_until: text(raw.snoozed_until),
      first_response_at: text(raw.first_response_at),
      created_at: text(raw.created_at) ?? '',
      updated_at: text(raw.updated_at) ?? text(raw.created_at) ?? '',
      messages,
      audit_trail: audit.filter((a) => a.id && a.created_at),
    },
  };
}
