import type { EventRow } from '../db/schema.js';
import { fromJsonText } from '../shared/json.js';

/** One event as webhooks deliver it and GET /v1/events lists it. */
export interface EventPayload {
  id: string;
  type: string;
  timestamp: string;
  data: unknown;
}

export const toEventPayload = (row: Pick<EventRow, 'id' | 'type' | 'created_at' | 'data'>): EventPayload => ({
  id: row.id,
  type: row.type,
  timestamp: row.created_at,
  data: fromJsonText<unknown>(row.data, null),
});

/**
 * The exact webhook body. The stored `data` text is spliced in rather than parsed and serialized
 * again: every retry signs byte-for-byte the same body.
 */
export function eventPayloadText(row: Pick<EventRow, 'id' | 'type' | 'created_at' | 'data'>): string {
  return `{"id":${JSON.stringify(row.id)},"type":${JSON.stringify(row.type)},"timestamp":${JSON.stringify(row.created_at)},"data":${row.data}}`;
}
