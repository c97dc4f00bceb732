import type { Generated, Insertable, Kysely, Selectable, Transaction, Updateable } from 'kysely';

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
  /** Moved by triggers on `tickets` whenever the queue's waiting tickets or their order may have changed (migration 0023). */
  waiting_version: Generated<number>;
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
  /** The agent the token belongs to: messages written with it are attributed to them. */
  agent_id: string | null;
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
  /** Arrival number, from the `ticket_queue_seq` sequence: the tie-break of queue order after priority. */
  queue_seq: number;
  /** Commit order of the ticket's last write, from `ticket_change_seq`: the tie-break of update order (migration 0012). */
  change_seq: number;
  created_at: string;
  updated_at: string;
  /** Set when the ticket was merged into another: that ticket's id. */
  merged_into: string | null;
  /**
   * The first line of the latest message that is not an internal note (src/shared/message-preview.ts),
   * kept by every write of a message (migration 0017); null when there is none.
   */
  last_message_preview: string | null;
}

/** Named counters: `UPDATE … SET value = value + 1 RETURNING value` hands out the next number. */
export interface SequenceTable {
  name: string;
  value: number;
}

/**
 * One node of a queue's Fenwick tree over its waiting tickets: `queue_position_buckets` counts
 * buckets of keys (src/queues/position-index.ts); `queue_positions`, the tree over every key that
 * releases before migration 0025 kept, is no longer written and goes in a later release.
 */
export interface QueuePositionTable {
  queue_id: string;
  node: number;
  waiting: number;
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
  /** public or internal (an internal note is never e-mailed). */
  visibility: Generated<string>;
  /** The RFC 5322 Message-ID (without angle brackets) of the mail this message came from or went out as. */
  email_message_id: string | null;
  /** A received mail's whole text when `body` has its quoted history or signature trimmed. */
  full_body: string | null;
  /** queued, sent or failed for a message e-mailed to the customer; null when it is not e-mailed. */
  delivery_status: string | null;
  delivery_attempts: Generated<number>;
  delivery_last_error: string | null;
}

export interface AuditEntryTable {
  id: string;
  ticket_id: string;
  actor_type: string;
  actor_id: string | null;
  actor_name: string;
  /** The agent the acting token belonged to, and their name then (migration 0018); null otherwise. */
  actor_agent_id: string | null;
  actor_agent_name: string | null;
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

export interface WebhookEndpointTable {
  id: string;
  url: string;
  description: string | null;
  /** JSON array of event types, or `["*"]`. */
  events: string;
  /** JSON array of brand ids; null means every brand. */
  brand_ids: string | null;
  enabled: number;
  /** Why the endpoint was disabled: `manual`, `gone` (it answered 410) or `failing` (5 days of failures). */
  disabled_reason: string | null;
  /** `whsec_…` sealed with the deployment's secret box (signing needs it back); returned only on create and rotate. */
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: string | null;
  /** The first failed attempt since the last success; null while healthy. */
  failing_since: string | null;
  created_at: string;
  updated_at: string;
}

export interface EventDispatchQueueTable {
  event_id: string;
  created_at: string;
}

export interface WebhookDeliveryTable {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  /** pending, succeeded or failed. */
  status: string;
  attempt_count: number;
  /** Millisecond RFC 3339 instants, so that short retry delays order correctly as text. */
  next_attempt_at: string | null;
  last_attempt_at: string | null;
  /** The claim of the worker sending it: a lease that lapses if that worker dies. */
  locked_by: string | null;
  locked_until: string | null;
  created_at: string;
  updated_at: string;
}

export interface WebhookAttemptTable {
  id: string;
  delivery_id: string;
  attempt: number;
  attempted_at: string;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  response_body: string | null;
  next_attempt_at: string | null;
}

export interface AttachmentTable {
  id: string;
  /** Null only for an attachment made by an all-brands token and not linked yet: it takes the ticket's brand. */
  brand_id: string | null;
  file_name: string;
  content_type: string;
  declared_size: number | null;
  /** pending → uploading → ready; a failed upload goes back to pending. */
  status: string;
  /** bigint: PostgreSQL hands it back as text, so read it through Number(). */
  size: number | string | null;
  sha256: string | null;
  /** The blob: while `uploading`, the one the running attempt writes (it names the attempt); once `ready`, the stored bytes. */
  storage_key: string | null;
  upload_expires_at: string;
  /**
   * While `uploading`: until when the attempt holds the upload. The process running it extends
   * this every few seconds; once it lapses (the process died), another PUT may take over.
   */
  upload_lease_expires_at: string | null;
  ticket_id: string | null;
  message_id: string | null;
  created_at: string;
  uploaded_at: string | null;
  linked_at: string | null;
}

export interface ServerKeyTable {
  name: string;
  /** Sealed with the deployment's secret box (`v1.…`); plain hex only in databases from before 0006, until the next start seals it. */
  secret: string;
  created_at: string;
}

/** One row per indexed ticket (docs/search.md). */
export interface SearchDocumentTable {
  /** Integer key shared with the keyword index (FTS5 rowid on SQLite). */
  doc_id: Generated<number>;
  ticket_id: string;
  brand_id: string;
  /** The embedder that made `vector`; null while a remote embedding is pending. */
  embedder_id: string | null;
  /** f32 little-endian scale, then one int8 per dimension. */
  vector: Uint8Array | null;
  /** bigint: PostgreSQL hands it back as text, so read it through Number(). */
  seq: number | string;
  indexed_at: string;
  /** 1 when the ticket's first message is its description word for word, 0 when not; null when not known (migration 0026). */
  opens_with_description: number | null;
}

export interface SearchStateTable {
  id: number;
  seq: number | string;
  components: Uint8Array | null;
  components_id: string | null;
  updated_at: string;
}

export interface SearchEmbedQueueTable {
  ticket_id: string;
  queued_at: string;
  attempts: number;
}

/** One rate-limit bucket's count in one fixed window (src/http/rate-limit-store.ts). */
export interface RateLimitCounterTable {
  bucket: string;
  /** Epoch milliseconds; bigint, so PostgreSQL hands it back as text: read it through Number(). */
  window_start: number | string;
  count: number;
  expires_at: number | string;
}

/** A source record `nexus import` has written, and the ticket it became (src/imports/). */
export interface ImportRecordTable {
  /** `zendesk`, `freshdesk` or `jsonl`. */
  source: string;
  /** The source's id of the ticket (our own ticket id for `jsonl`). */
  external_id: string;
  ticket_id: string;
  imported_at: string;
}

export interface BrandEmailAddressTable {
  /** Lower-cased; belongs to one brand. */
  address: string;
  brand_id: string;
  /** The brand's first address (0) is the one replies are sent from. */
  position: number;
}

/** One received mail, whatever became of it (src/email/inbound.ts). */
export interface InboundEmailTable {
  id: string;
  brand_id: string | null;
  sender: string | null;
  rfc_message_id: string | null;
  /** ticket_created, message_added, ignored or bounce. */
  outcome: string;
  reason: string | null;
  ticket_id: string | null;
  message_id: string | null;
  /** The raw message in the blob store. */
  raw_storage_key: string | null;
  size: number | string;
  received_at: string;
}

/** A message waiting to be e-mailed; the row goes when it is sent or has failed for good. */
export interface EmailOutboxTable {
  message_id: string;
  ticket_id: string;
  next_attempt_at: string;
  /** The claim of the sender working on it: a lease that lapses if that process dies. */
  locked_until: string | null;
  created_at: string;
}

export interface AgentTable {
  id: string;
  name: string;
  /** Trimmed and lower-cased; unique. */
  email: string;
  role: string;
  /** JSON array of brand ids; null: every brand. */
  brand_ids: string | null;
  active: number;
  created_at: string;
  updated_at: string;
}

/** One row per agent and brand it works on; brand `*` for an agent of every brand. */
export interface AgentBrandTable {
  brand_id: string;
  agent_id: string;
}

/** One per brand and e-mail address; the counts are kept by every ticket write (src/customers). */
export interface CustomerTable {
  id: string;
  brand_id: string;
  email: string;
  name: string | null;
  external_id: string | null;
  notes: string | null;
  ticket_count: number;
  /** Tickets not resolved: open, pending or snoozed. */
  open_ticket_count: number;
  /** The latest ticket creation or message on one of their tickets. */
  last_activity_at: string;
  created_at: string;
  updated_at: string;
  /** Set when the customer was erased (migration 0016): the row is then a tombstone, its address and name replaced. */
  erased_at: string | null;
}

/** A saved ticket filter of a brand or of one agent (src/views). */
export interface ViewTable {
  id: string;
  /** Set on a brand's view, seen by every token of the brand; null on an agent's view. */
  brand_id: string | null;
  /** Set on an agent's own view, seen only by tokens of that agent; null on a brand's view. */
  agent_id: string | null;
  name: string;
  /** JSON: the ticket list's filters (GET /v1/tickets query parameters but sort, limit, after). */
  filters: string;
  sort: string | null;
  created_at: string;
  updated_at: string;
}

/** Tickets per brand, status and assignee ('' for none), kept by every ticket write (src/tickets/count-store.ts). */
export interface TicketCountTable {
  brand_id: string;
  status: string;
  assigned_to: string;
  count: number;
}

/** A custom view's tickets of one brand (migration 0018, src/views/count-store.ts). */
export interface ViewCountTable {
  view_id: string;
  brand_id: string;
  count: number;
}

/**
 * A ticket's fields and conversation as JSON, for one version and schema shape (migration 0024,
 * src/tickets/stored-representations.ts). Declared BLOB (bytea): PostgreSQL stores bytes, SQLite
 * the JSON as TEXT (its columns take any type), which reads back as a string.
 */
export interface TicketRepresentationTable {
  ticket_id: string;
  version: number;
  shape: string;
  fields: Buffer | string;
  conversation: Buffer | string;
}

export interface Database {
  brand_email_addresses: BrandEmailAddressTable;
  inbound_emails: InboundEmailTable;
  email_outbox: EmailOutboxTable;
  agents: AgentTable;
  agent_brands: AgentBrandTable;
  customers: CustomerTable;
  brands: BrandTable;
  queues: QueueTable;
  tokens: TokenTable;
  tickets: TicketTable;
  sequences: SequenceTable;
  queue_positions: QueuePositionTable;
  queue_position_buckets: QueuePositionTable;
  ticket_tags: TicketTagTable;
  messages: MessageTable;
  audit_entries: AuditEntryTable;
  events: EventTable;
  idempotency_keys: IdempotencyKeyTable;
  attachments: AttachmentTable;
  server_keys: ServerKeyTable;
  webhook_endpoints: WebhookEndpointTable;
  event_dispatch_queue: EventDispatchQueueTable;
  webhook_deliveries: WebhookDeliveryTable;
  webhook_attempts: WebhookAttemptTable;
  search_documents: SearchDocumentTable;
  search_state: SearchStateTable;
  search_embed_queue: SearchEmbedQueueTable;
  rate_limit_counters: RateLimitCounterTable;
  import_records: ImportRecordTable;
  views: ViewTable;
  ticket_counts: TicketCountTable;
  view_counts: ViewCountTable;
  ticket_representations: TicketRepresentationTable;
}

export type Db = Kysely<Database>;
/** Store functions take either the database or an open transaction, so services choose the boundary. */
export type DbOrTx = Kysely<Database> | Transaction<Database>;

export type BrandRow = Selectable<BrandTable>;
export type AgentRow = Selectable<AgentTable>;
export type CustomerRow = Selectable<CustomerTable>;
export type QueueRow = Selectable<QueueTable>;
export type TokenRow = Selectable<TokenTable>;
export type TicketRow = Selectable<TicketTable>;
export type NewTicketRow = Insertable<TicketTable>;
export type TicketRowUpdate = Updateable<TicketTable>;
export type MessageRow = Selectable<MessageTable>;
export type AuditEntryRow = Selectable<AuditEntryTable>;
export type EventRow = Selectable<EventTable>;
export type AttachmentRow = Selectable<AttachmentTable>;
export type ViewRow = Selectable<ViewTable>;
export type WebhookEndpointRow = Selectable<WebhookEndpointTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveryTable>;
export type WebhookAttemptRow = Selectable<WebhookAttemptTable>;
