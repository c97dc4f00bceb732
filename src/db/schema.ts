import type { Insertable, Kysely, Selectable, Transaction, Updateable } from 'kysely';

/*
 * Table types shared by every dialect. Instants are RFC 3339 text (see shared/clock.ts), JSON is
 * text, booleans are 0/1 integers: the lowest common denominator of SQLite and PostgreSQL, so the
 * stores carry no dialect branches.
 */

export interface BrandTable {
  id: string;
  name: string;
  created_at: string;
  updated_at: string;
}

export interface QueueTable {
  id: string;
  brand_id: string;
  name: string;
  /** JSON `{tags?, priority?, origin?}`; null on the default queue. */
  match: string | null;
  sort_order: number;
  is_default: number;
  created_at: string;
  updated_at: string;
}

export interface TokenTable {
  id: string;
  name: string;
  /** Hex SHA-256 of the secret; the secret itself is never stored. */
  secret_hash: string;
  /** The last four characters of the secret, to tell tokens apart in listings. */
  secret_hint: string;
  scopes: string;
  brand_ids: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  created_at: string;
}

export interface TicketTable {
  id: string;
  brand_id: string;
  queue_id: string;
  subject: string;
  description: string;
  status: string;
  priority: string;
  /** 0 = urgent … 3 = low, so that queue order is an index scan. */
  priority_rank: number;
  assigned_to: string | null;
  tags: string;
  origin: string;
  customer_email: string;
  customer_name: string | null;
  metadata: string;
  snoozed_until: string | null;
  first_response_at: string | null;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface TicketTagTable {
  ticket_id: string;
  tag: string;
}

export interface MessageTable {
  id: string;
  ticket_id: string;
  author_type: string;
  author_email: string | null;
  author_name: string | null;
  body: string;
  cc: string;
  created_at: string;
}

export interface AuditEntryTable {
  id: string;
  ticket_id: string;
  actor_type: string;
  actor_id: string | null;
  actor_name: string;
  action: string;
  changes: string;
  created_at: string;
}

export interface EventTable {
  id: string;
  type: string;
  brand_id: string | null;
  ticket_id: string | null;
  data: string;
  created_at: string;
}

export interface IdempotencyKeyTable {
  token_id: string;
  key: string;
  method_path: string;
  request_hash: string;
  state: string;
  response_status: number | null;
  response_headers: string | null;
  response_body: string | null;
  created_at: string;
}

export interface Database {
  brands: BrandTable;
  queues: QueueTable;
  tokens: TokenTable;
  tickets: TicketTable;
  ticket_tags: TicketTagTable;
  messages: MessageTable;
  audit_entries: AuditEntryTable;
  events: EventTable;
  idempotency_keys: IdempotencyKeyTable;
}

export type Db = Kysely<Database>;
/** Store functions take either the database or an open transaction, so services choose the boundary. */
export type DbOrTx = Kysely<Database> | Transaction<Database>;

export type BrandRow = Selectable<BrandTable>;
export type QueueRow = Selectable<QueueTable>;
export type TokenRow = Selectable<TokenTable>;
export type TicketRow = Selectable<TicketTable>;
export type NewTicketRow = Insertable<TicketTable>;
export type TicketRowUpdate = Updateable<TicketTable>;
export type MessageRow = Selectable<MessageTable>;
export type AuditEntryRow = Selectable<AuditEntryTable>;
export type EventRow = Selectable<EventTable>;
