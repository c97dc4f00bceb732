import { parseInstant } from '../../shared/clock.js';
import { stableId } from '../../shared/ids.js';
import type { HistoricMessage } from '../../tickets/service.js';
import type { Origin, Priority, Status } from '../../tickets/model.js';
import {
  type MappedRecord,
  type MappingContext,
  type SourceUser,
  brandIdFor,
  idText,
  isObject,
  parseAddress,
  subjectOf,
  tagsOf,
  text,
  withCustomFields,
} from '../model.js';
import { htmlToText } from '../../shared/html-text.js';

/*
 * Freshdesk tickets as its API v2 returns them: `GET /api/v2/tickets/{id}?include=conversations,requester`
 * (or the same objects in an array or one per line). Field names are Freshdesk's documented ones:
 * ticket `id`, `subject`, `description`, `description_text`, `status` (2 Open, 3 Pending,
 * 4 Resolved, 5 Closed, higher: custom), `priority` (1 Low, 2 Medium, 3 High, 4 Urgent), `source`
 * (1 Email, 2 Portal, 3 Phone, 7 Chat, 9 Feedback widget, 10 Outbound email), `type`,
 * `requester_id`, `requester.{email,name}`, `responder_id`, `product_id`, `tags`, `cc_emails`,
 * `custom_fields` (`{ cf_name: value }`), `created_at`, `updated_at`; conversation `id`, `body`,
 * `body_text`, `incoming`, `private` (a private one becomes an internal note), `user_id`,
 * `from_email`, `cc_emails`, `attachments`, `created_at`. People (--users): contacts
 * `{ id, name, email }` or agents `{ id, contact: { name, email } }`.
 */

const STATUS: Record<number, Status> = { 2: 'open', 3: 'pending', 4: 'resolved', 5: 'resolved' };
const PRIORITY: Record<number, Priority> = { 1: 'low', 2: 'normal', 3: 'high', 4: 'urgent' };

function originOf(source: number | null): Origin {
  if (source === 1 || source === 10) return 'email';
  if (source === 2 || source === 9 || source === 7) return 'web';
  return 'api';
}

const num = (v: unknown): number | null => (typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : null);

/** A contact (`{ id, name, email }`) or an agent (`{ id, contact: { name, email } }`) of a users file. */
export function freshdeskUser(value: unknown): [string, SourceUser] | null {
  if (!isObject(value)) return null;
  const id = idText(value.id);
  if (!id) return null;
  if (isObject(value.contact)) return [id, { email: text(value.contact.email), name: text(value.contact.name), agent: true }];
  return [id, { email: text(value.email), name: text(value.name), agent: false }];
}

export function mapFreshdeskTicket(raw: unknown, ctx: MappingContext): MappedRecord {
  if (!isObject(raw)) return { kind: 'skip', externalId: null, reason: 'not a JSON object' };
  const externalId = idText(raw.id);
  if (!externalId) return { kind: 'skip', externalId: null, reason: 'no ticket id' };
  const created = parseInstant(text(raw.created_at) ?? '');
  if (!created) return { kind: 'skip', externalId, reason: 'no valid created_at' };
  const dropped: string[] = [];
  const user = (uid: unknown): SourceUser | undefined => {
    const key = idText(uid);
    return key ? ctx.users.get(key) : undefined;
  };
  const conversations = (Array.isArray(raw.conversations) ? raw.conversations : []).filter(isObject);
  const requester = isObject(raw.requester) ? raw.requester : {};
  const requesterUser = user(raw.requester_id);
  const firstIncoming = conversations.find((c) => c.incoming === true);
  const customerEmail =
    text(requester.email) ?? requesterUser?.email ?? text(raw.email) ?? (firstIncoming ? parseAddress(firstIncoming.from_email)?.email : undefined) ?? null;
  if (!customerEmail)
    return { kind: 'skip', externalId, reason: "the requester's email is unknown (fetch tickets with include=requester, or pass contacts with --users)" };
  const customerName = text(requester.name) ?? requesterUser?.name ?? null;

  const description = text(raw.description_text) ?? htmlToText(text(raw.description) ?? '');
  const messages: HistoricMessage[] = [];
  // Freshdesk keeps the opening message as the ticket's description, not as a conversation.
  if (description.trim()) {
    messages.push({
      id: stableId('msg', created.getTime(), `freshdesk:${externalId}:description`),
      author_type: 'customer',
      author: null,
      body: description,
      cc: (Array.isArray(raw.cc_emails) ? raw.cc_emails : []).map((a) => parseAddress(a)?.email).filter((a): a is string => !!a),
      created_at: created.toISOString(),
    });
  }
  for (const c of conversations) {
    const incoming = c.incoming === true;
    const internal = c.private === true;
    if (internal && incoming) {
      // A private note is an agent's; one marked incoming came from the customer, and making it public would show what was hidden.
      dropped.push("private conversation from the customer skipped (only an agent's message can be an internal note)");
      continue;
    }
    const body = text(c.body_text) ?? htmlToText(text(c.body) ?? '');
    if (!body.trim()) {
      dropped.push('conversation without text skipped');
      continue;
    }
    if (Array.isArray(c.attachments) && c.attachments.length) dropped.push('attachment referenced but not imported (the export holds no bytes)');
    const at = parseInstant(text(c.created_at) ?? '') ?? created;
    const who = user(c.user_id);
    const from = parseAddress(c.from_email);
    // An agent's reply is sent from the support address: the agent is the user_id.
    const author = incoming ? (from ?? (who ? { email: who.email, name: who.name } : null)) : who ? { email: who.email, name: who.name } : from;
    messages.push({
      id: stableId('msg', at.getTime(), `freshdesk:${externalId}:${idText(c.id) ?? messages.length}`),
      author_type: incoming ? 'customer' : 'agent',
      author,
      body,
      cc: (Array.isArray(c.cc_emails) ? c.cc_emails : []).map((a) => parseAddress(a)?.email).filter((a): a is string => !!a),
      visibility: internal ? 'internal' : 'public',
      created_at: at.toISOString(),
    });
  }
  const status = num(raw.status);
  if (status !== null && status > 5) dropped.push('custom status mapped to pending');
  const product = idText(raw.product_id);
  const brandId = ctx.brandId ?? brandIdFor('freshdesk', product);
  return {
    kind: 'ticket',
    externalId,
    brand: { id: brandId, name: product ? `Freshdesk product ${product}` : 'Freshdesk' },
    dropped,
    ticket: {
      id: stableId('tick', created.getTime(), `freshdesk:${externalId}`),
      brand_id: brandId,
      subject: subjectOf(text(raw.subject), description, dropped),
      description,
      status: status === null ? 'open' : (STATUS[status] ?? 'pending'),
      priority: PRIORITY[num(raw.priority) ?? 2] ?? 'normal',
      origin: originOf(num(raw.source)),
      tags: tagsOf(raw.tags, dropped),
      customer: { email: customerEmail, name: customerName },
      assigned_to: user(raw.responder_id)?.email ?? null,
      metadata: withCustomFields(
        { imported_from: 'freshdesk', freshdesk_id: externalId, ...(text(raw.type) ? { freshdesk_type: text(raw.type) } : {}) },
        'freshdesk_custom_fields',
        isObject(raw.custom_fields) ? Object.entries(raw.custom_fields) : [],
        dropped,
      ),
      created_at: created.toISOString(),
      updated_at: text(raw.updated_at) ?? created.toISOString(),
      messages,
    },
  };
}
