/** Wire types of the public API the dashboard reads (snake_case, as the API sends them). */
export type Scope = 'tickets:read' | 'tickets:write' | 'webhooks:manage' | 'admin';

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export interface Token {
  id: string;
  name: string;
  scopes: Scope[];
  brand_ids: string[] | null;
  hint: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  created_at: string;
}

export interface Brand {
  id: string;
  name: string;
  default_queue_id: string;
  created_at: string;
}

export interface QueueMatch {
  tags?: string[];
  priority?: string[];
  origin?: string[];
}

export interface Queue {
  id: string;
  brand_id: string;
  name: string;
  match: QueueMatch | null;
  order: number;
  is_default: boolean;
}

export interface Ticket {
  id: string;
  brand_id: string;
  subject: string;
  description: string;
  status: string;
  priority: string;
  assigned_to: string | null;
  tags: string[];
  origin: string;
  customer: { email: string; name: string | null };
  snoozed_until: string | null;
  first_response_at: string | null;
  created_at: string;
  updated_at: string;
  queue?: { id: string; name: string; position: number | null };
  position?: number;
}

export interface Attachment {
  id: string;
  file_name: string;
  content_type: string;
  size: number | null;
  sha256: string | null;
  download_url: string | null;
}

export interface Message {
  id: string;
  author_type: 'agent' | 'customer';
  author: { email: string | null; name: string | null } | null;
  body: string;
  cc: string[];
  attachments: Attachment[];
  created_at: string;
}

export interface AuditEntry {
  id: string;
  action: string;
  actor: { type: string; id: string | null; name: string };
  changes: Record<string, { from: unknown; to: unknown }>;
  created_at: string;
}

export interface TicketDetail extends Ticket {
  messages: Message[];
  participants: { email: string; name: string | null; role: string }[];
  audit_trail: AuditEntry[];
}

export interface SearchHit {
  ticket: Ticket;
  score: number;
  highlights?: Record<string, string[] | string> | string[] | null;
  match?: { keyword?: boolean | number | null; semantic?: boolean | number | null };
}

export interface Webhook {
  id: string;
  url: string;
  description: string | null;
  events: string[];
  brand_ids: string[] | null;
  enabled: boolean;
  disabled_reason: string | null;
  /** Until when the previous secret still signs, after a rotation. */
  previous_secret_expires_at: string | null;
  /** When the current run of failed attempts began; null while healthy. */
  failing_since: string | null;
  created_at: string;
  updated_at: string;
  /** Shown once, in the answers to create and rotate-secret. */
  secret?: string;
}

export interface Attempt {
  attempt: number;
  attempted_at: string;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  response_body: string | null;
  next_attempt_at: string | null;
}

export interface Delivery {
  id: string;
  event_id: string;
  event_type: string;
  status: string;
  attempt_count: number;
  next_attempt_at: string | null;
  created_at: string;
  attempts: Attempt[];
}

export const STATUSES = ['open', 'pending', 'resolved', 'snoozed'] as const;
export const PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export const ORIGINS = ['email', 'web', 'api'] as const;
export const SCOPES: Scope[] = ['tickets:read', 'tickets:write', 'webhooks:manage', 'admin'];
export const EVENT_TYPES = ['ticket.created', 'ticket.updated', 'ticket.status_changed', 'ticket.assigned', 'ticket.message_created'] as const;
