import type { WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow } from '../db/schema.js';
import { TICKET_EVENT_TYPES } from '../events/outbox.js';
import { toTimestamp } from '../shared/clock.js';
import { newId } from '../shared/ids.js';
import { fromJsonText } from '../shared/json.js';

/** The event types an endpoint may subscribe to; `*` means all of them, and future ones. */
export const SUBSCRIBABLE_EVENT_TYPES: readonly string[] = TICKET_EVENT_TYPES;
export const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** How long the secret replaced by a rotation keeps signing beside the new one. */
export const SECRET_OVERLAP_MS = 24 * 60 * 60 * 1000;

export interface WebhookView {
  id: string;
  url: string;
  description: string | null;
  events: string[];
  brand_ids: string[] | null;
  enabled: boolean;
  disabled_reason: string | null;
  failing_since: string | null;
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface AttemptView {
  attempt: number;
  attempted_at: string;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  response_body: string | null;
  next_attempt_at: string | null;
}

export interface DeliveryView {
  id: string;
  webhook_id: string;
  event_id: string;
  event_type: string;
  status: DeliveryStatus;
  attempt_count: number;
  next_attempt_at: string | null;
  created_at: string;
  updated_at: string;
  attempts: AttemptView[];
}

/** Instants the dispatcher schedules by carry milliseconds; the API shows them to the second. */
export const preciseInstant = (date: Date): string => date.toISOString();

/** A delivery of one event to one endpoint, due at once. `at` is a preciseInstant. */
export function newDeliveryRow(endpointId: string, event: { id: string; type: string }, at: string, id: string = newId('dlv')): WebhookDeliveryRow {
  return {
    id,
    endpoint_id: endpointId,
    event_id: event.id,
    event_type: event.type,
    status: 'pending',
    attempt_count: 0,
    next_attempt_at: at,
    last_attempt_at: null,
    locked_by: null,
    locked_until: null,
    created_at: at,
    updated_at: at,
  };
}
const wire = (text: string | null): string | null => (text === null ? null : toTimestamp(new Date(text)));

export const endpointBrands = (row: Pick<WebhookEndpointRow, 'brand_ids'>): string[] | null => fromJsonText<string[] | null>(row.brand_ids, null);
export const endpointEvents = (row: Pick<WebhookEndpointRow, 'events'>): string[] => fromJsonText<string[]>(row.events, []);

/** The secrets that sign a request now: the current one, and the previous one during its overlap. */
export function liveSecrets(row: Pick<WebhookEndpointRow, 'secret' | 'previous_secret' | 'previous_secret_expires_at'>, now: Date): string[] {
  const secrets = [row.secret];
  if (row.previous_secret && row.previous_secret_expires_at && Date.parse(row.previous_secret_expires_at) > now.getTime()) {
    secrets.push(row.previous_secret);
  }
  return secrets;
}

/** Whether an endpoint takes an event: its type is subscribed and its brand is one of the endpoint's. */
export function endpointMatches(row: Pick<WebhookEndpointRow, 'events' | 'brand_ids'>, event: { type: string; brand_id: string | null }): boolean {
  const events = endpointEvents(row);
  if (!events.includes('*') && !events.includes(event.type)) return false;
  const brands = endpointBrands(row);
  if (brands === null) return true;
  return event.brand_id !== null && brands.includes(event.brand_id);
}

export function toWebhookView(row: WebhookEndpointRow, now: Date): WebhookView {
  const overlap = row.previous_secret_expires_at && Date.parse(row.previous_secret_expires_at) > now.getTime();
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    events: endpointEvents(row),
    brand_ids: endpointBrands(row),
    enabled: row.enabled === 1,
    disabled_reason: row.disabled_reason,
    failing_since: wire(row.failing_since),
    previous_secret_expires_at: overlap ? row.previous_secret_expires_at : null,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

export const toAttemptView = (row: WebhookAttemptRow): AttemptView => ({
  attempt: row.attempt,
  attempted_at: wire(row.attempted_at)!,
  status_code: row.status_code,
  error: row.error,
  duration_ms: row.duration_ms,
  response_body: row.response_body,
  next_attempt_at: wire(row.next_attempt_at),
});

export const toDeliveryView = (row: WebhookDeliveryRow, attempts: WebhookAttemptRow[]): DeliveryView => ({
  id: row.id,
  webhook_id: row.endpoint_id,
  event_id: row.event_id,
  event_type: row.event_type,
  status: row.status as DeliveryStatus,
  attempt_count: row.attempt_count,
  next_attempt_at: row.status === 'pending' ? wire(row.next_attempt_at) : null,
  created_at: wire(row.created_at)!,
  updated_at: wire(row.updated_at)!,
  attempts: attempts.map(toAttemptView),
});
