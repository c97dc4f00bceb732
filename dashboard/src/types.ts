/*
 * Names for the wire types of the public API the dashboard reads (snake_case, as the API sends
 * them). Each is taken from api-types.ts, which `npm run generate:types` generates from the OpenAPI
 * document the server serves: none is written by hand here, so none drifts from the server.
 */
import type { components, operations, webhooks } from './api-types.js';

type Schemas = components['schemas'];

/** The JSON body of an operation's response with this status. */
type ResponseBody<Op extends keyof operations, Status extends keyof operations[Op]['responses']> = operations[Op]['responses'][Status] extends {
  content: { 'application/json': infer Body };
}
  ? Body
  : never;

/** One page of a list: every list operation answers this shape. */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export type Token = Schemas['Token'];
export type Scope = Token['scopes'][number];
/** The answer to creating a token: the token and, this once, its secret. */
export type CreatedToken = ResponseBody<'createToken', 201>;
export type Brand = Schemas['Brand'];
export type Queue = Schemas['Queue'];
export type Ticket = Schemas['Ticket'];
/** A ticket in a queue's listing, with its place in the queue. */
export type QueuedTicket = ResponseBody<'listQueueTickets', 200>['data'][number];
export type Message = Schemas['Message'];
export type AuditEntry = Schemas['AuditEntry'];
/** A ticket with its queue placement, messages, participants and audit trail. */
export type TicketDetail = ResponseBody<'getTicket', 200>;
export type SearchHit = ResponseBody<'searchTickets', 200>['data'][number];
/** A ticket like the one shown, with its score and status. */
export type SimilarTicket = ResponseBody<'listSimilarTickets', 200>['data'][number];
export type Webhook = ResponseBody<'getWebhook', 200>;
/** The answer to creating an endpoint or rotating its secret: the endpoint and, this once, its secret. */
export type WebhookWithSecret = ResponseBody<'createWebhook', 201>;
export type Delivery = ResponseBody<'listWebhookDeliveries', 200>['data'][number];
export type Attempt = Delivery['attempts'][number];
export type Agent = Schemas['Agent'];
export type Customer = Schemas['Customer'];
export type BulkChange = operations['bulkUpdateTickets']['requestBody']['content']['application/json']['change'];
/** One ticket's outcome in a bulk change: its status as PATCH would answer, the ticket or the problem. */
export type BulkResult = ResponseBody<'bulkUpdateTickets', 200>['results'][number];
export type Attachment = ResponseBody<'createAttachment', 201>;

export type SavedView = Schemas['View'];
export type ViewCount = ResponseBody<'listViewCounts', 200>['data'][number];
export type EraseOutcome = ResponseBody<'eraseCustomer', 200>;

// The choices the pages offer, in display order; a typo, or a value the API no longer has, fails to compile.
export const STATUSES = ['open', 'pending', 'resolved', 'snoozed'] as const satisfies readonly Ticket['status'][];
export const PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const satisfies readonly Ticket['priority'][];
export const ORIGINS = ['email', 'web', 'api'] as const satisfies readonly Ticket['origin'][];
export const SCOPES: Scope[] = ['tickets:read', 'tickets:write', 'webhooks:manage', 'admin'];
export const EVENT_TYPES = [
  'ticket.created',
  'ticket.updated',
  'ticket.status_changed',
  'ticket.assigned',
  'ticket.message_created',
  'ticket.merged',
] as const satisfies readonly (keyof webhooks)[];
