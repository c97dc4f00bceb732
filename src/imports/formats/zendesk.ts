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
 * Zendesk Support tickets, as its full JSON export writes them (one ticket per line, `comments`
 * embedded) or as the Tickets API returns them (`{ "tickets": [...], "users": [...] }` with
 * `include=users`, comments embedded the same way). Field names are Zendesk's documented ones:
 * ticket `id`, `url`, `subject`, `raw_subject`, `description`, `status`, `priority`, `type`,
 * `requester_id`, `assignee_id`, `brand_id`, `tags`, `via.channel`, `via.source.from.address/name`,
 * `created_at`, `updated_at`; comment `id`, `author_id`, `body`, `plain_body`, `html_body`,
 * `public`, `attachments`, `created_at`; `custom_fields` (`[{ id, value }]`); user `id`, `name`,
 * `email`, `role` (end-user, agent, admin). A comment with `public: false` becomes an internal note.
 */

const STATUS: Record<string, Status> = { new: 'open', open: 'open', pending: 'pending', hold: 'pending', solved: 'resolved', closed: 'resolved' };
const PRIORITY: Record<string, Priority> = { low: 'low', normal: 'normal', high: 'high', urgent: 'urgent' };

function originOf(channel: string | null): Origin {
  if (channel === 'email') return 'email';
  if (channel && /^(web|web_form|web_widget|web_service|mobile|mobile_sdk|help_center|chat|messaging)$/.test(channel)) return 'web';
  return 'api';
}

/** A users export line or a sideloaded user: `{ id, name, email, role }`. */
export function zendeskUser(value: unknown): [string, SourceUser] | null {
  if (!isObject(value)) return null;
  const id = idText(value.id);
  if (!id) return null;
  const role = text(value.role);
  return [id, { email: text(value.email), name: text(value.name), agent: role === null ? undefined : role !== 'end-user' }];
}

/** The ticket's id in the source: `<host>/<id>` when the record has its API url, so two Zendesk accounts never collide. */
function externalIdOf(raw: Record<string, unknown>, id: string): string {
  const url = text(raw.url);
  const host = url ? /^https?:\/\/([^/]+)\//.exec(url)?.[1] : undefined;
  return host ? `${host}/${id}` : id;
}

export function mapZendeskTicket(raw: unknown, ctx: MappingContext): MappedRecord {
  if (!isObject(raw)) return { kind: 'skip', externalId: null, reason: 'not a JSON object' };
  const id = idText(raw.id);
  if (!id) return { kind: 'skip', externalId: null, reason: 'no ticket id' };
  const externalId = externalIdOf(raw, id);
  const created = parseInstant(text(raw.created_at) ?? '');
  if (!created) return { kind: 'skip', externalId, reason: 'no valid created_at' };
  const dropped: string[] = [];
  const user = (uid: unknown): SourceUser | undefined => {
    const key = idText(uid);
    return key ? ctx.users.get(key) : undefined;
  };
  const requesterId = idText(raw.requester_id);
  const via = isObject(raw.via) ? raw.via : {};
  const from = isObject(via.source) && isObject(via.source.from) ? via.source.from : {};
  const requester = user(raw.requester_id);
  const customerEmail = requester?.email ?? parseAddress(from.address)?.email ?? null;
  if (!customerEmail) return { kind: 'skip', externalId, reason: "the requester's email is unknown (pass Zendesk's users export with --users)" };
  const customerName = requester?.name ?? text(from.name);

  const description = text(raw.description) ?? '';
  const messages: HistoricMessage[] = [];
  const comments = Array.isArray(raw.comments) ? raw.comments : [];
  let privateLeftOut = false;
  for (const c of comments) {
    if (!isObject(c)) continue;
    const author = user(c.author_id);
    const isCustomer = idText(c.author_id) === requesterId || author?.agent === false;
    const internal = c.public === false;
    if (internal && isCustomer) {
      // An agent made the customer's own comment private; our notes are agents' only, and making it public would show what was hidden.
      dropped.push("private comment by the customer skipped (only an agent's message can be an internal note)");
      privateLeftOut = true;
      continue;
    }
    const body = text(c.plain_body) ?? text(c.body) ?? htmlToText(text(c.html_body) ?? '');
    if (!body.trim()) {
      dropped.push('comment without text skipped');
      continue;
    }
    if (Array.isArray(c.attachments) && c.attachments.length) dropped.push('attachment referenced but not imported (the export holds no bytes)');
    const at = parseInstant(text(c.created_at) ?? '') ?? created;
    messages.push({
      id: stableId('msg', at.getTime(), `zendesk:${externalId}:${idText(c.id) ?? messages.length}`),
      author_type: isCustomer ? 'customer' : 'agent',
      author: author ? { email: author.email, name: author.name } : null,
      body,
      cc: [],
      visibility: internal ? 'internal' : 'public',
      created_at: at.toISOString(),
    });
  }
  // Zendesk's description is the first comment's text: stand it in only when no comment came at all,
  // never for a private one left out (it would publish what was private).
  if (messages.length === 0 && !privateLeftOut && description.trim()) {
    messages.push({
      id: stableId('msg', created.getTime(), `zendesk:${externalId}:description`),
      author_type: 'customer',
      author: null,
      body: description,
      cc: [],
      created_at: created.toISOString(),
    });
  }
  // Ticket fields an account defines itself: `custom_fields` (or `fields`), `[{ id, value }]`.
  const fieldList = (Array.isArray(raw.custom_fields) ? raw.custom_fields : Array.isArray(raw.fields) ? raw.fields : []).filter(isObject);
  const customFields = fieldList.flatMap((f): [string, unknown][] => {
    const fieldId = idText(f.id);
    return fieldId ? [[fieldId, f.value]] : [];
  });
  const brand = idText(raw.brand_id);
  const brandId = ctx.brandId ?? brandIdFor('zendesk', brand);
  return {
    kind: 'ticket',
    externalId,
    brand: { id: brandId, name: brand ? `Zendesk brand ${brand}` : 'Zendesk' },
    dropped,
    ticket: {
      id: stableId('tick', created.getTime(), `zendesk:${externalId}`),
      brand_id: brandId,
      subject: subjectOf(text(raw.subject) ?? text(raw.raw_subject), description, dropped),
      description,
      status: STATUS[text(raw.status) ?? ''] ?? 'open',
      priority: PRIORITY[text(raw.priority) ?? ''] ?? 'normal',
      origin: originOf(text(via.channel)),
      tags: tagsOf(raw.tags, dropped),
      customer: { email: customerEmail, name: customerName },
      assigned_to: user(raw.assignee_id)?.email ?? null,
      metadata: withCustomFields(
        { imported_from: 'zendesk', zendesk_id: id, ...(text(raw.type) ? { zendesk_type: text(raw.type) } : {}) },
        'zendesk_custom_fields',
        customFields,
        dropped,
      ),
      created_at: created.toISOString(),
      updated_at: text(raw.updated_at) ?? created.toISOString(),
      messages,
    },
  };
}
