import { Type } from 'typebox';
import type { TicketRow } from '../db/schema.js';
import { validationError } from '../http/problem.js';
import { fromJsonText } from './json.js';

/*
 * The ticket fields that queues route and order by, and the ticket as the API shows it: the
 * vocabulary that tickets, queues and search all speak. It lives here, importing no domain, so that
 * queues (the lower layer) can use it without importing tickets; tickets/model.ts re-exports it.
 */

export const STATUSES = ['open', 'pending', 'resolved', 'snoozed'] as const;
export const PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export const ORIGINS = ['email', 'web', 'api'] as const;

export type Status = (typeof STATUSES)[number];
export type Priority = (typeof PRIORITIES)[number];
export type Origin = (typeof ORIGINS)[number];

/** Queue order: urgent first. */
export const PRIORITY_RANK: Record<Priority, number> = { urgent: 0, high: 1, normal: 2, low: 3 };

export const LIMITS = {
  subjectMax: 300,
  descriptionMaxBytes: 64 * 1024,
  bodyMaxBytes: 64 * 1024,
  metadataMaxBytes: 4 * 1024,
  /** Nesting levels of objects and arrays in `metadata`, the metadata object itself being level 1. */
  metadataMaxDepth: 32,
  tagsMax: 50,
  tagMax: 64,
  ccMax: 50,
};

const literals = <const T extends readonly string[]>(values: T, description: string) => Type.Unsafe<T[number]>(Type.Enum([...values], { description }));

export const StatusSchema = literals(STATUSES, 'open, pending, resolved, snoozed');
export const PrioritySchema = literals(PRIORITIES, 'low, normal, high, urgent');
export const OriginSchema = literals(ORIGINS, 'email, web, api');

export interface TicketView {
  id: string;
  brand_id: string;
  subject: string;
  description: string;
  status: Status;
  priority: Priority;
  assigned_to: string | null;
  tags: string[];
  origin: Origin;
  customer: { email: string; name: string | null };
  metadata: Record<string, unknown>;
  snoozed_until: string | null;
  first_response_at: string | null;
  created_at: string;
  updated_at: string;
  /** The ticket this one was merged into; null unless merged. */
  merged_into: string | null;
  /** The first line of the latest message that is not an internal note, at most 200 characters; null when none. */
  last_message_preview: string | null;
}

export function toTicketView(row: TicketRow): TicketView {
  return {
    id: row.id,
    brand_id: row.brand_id,
    subject: row.subject,
    description: row.description,
    status: row.status as Status,
    priority: row.priority as Priority,
    assigned_to: row.assigned_to,
    tags: fromJsonText<string[]>(row.tags, []),
    origin: row.origin as Origin,
    customer: { email: row.customer_email, name: row.customer_name },
    metadata: fromJsonText<Record<string, unknown>>(row.metadata, {}),
    snoozed_until: row.snoozed_until,
    first_response_at: row.first_response_at,
    created_at: row.created_at,
    updated_at: row.updated_at,
    merged_into: row.merged_into ?? null,
    last_message_preview: row.last_message_preview ?? null,
  };
}

/** How a tag is stored and compared: trimmed and lower-cased. */
export const normalizeTag = (tag: string): string => tag.trim().toLowerCase();

/** Length as JSON Schema's `maxLength` counts it (code points), so the schemas and this check agree. */
export const textLength = (text: string): number => {
  let n = 0;
  for (const _ of text) n++;
  return n;
};

/** Tags are trimmed, lower-cased and de-duplicated, keeping first-seen order. */
export function normalizeTags(tags: string[]): string[] {
  return [...new Set(tags.map(normalizeTag))];
}

/**
 * Normalises a tag list and checks each tag *after* normalisation: trimming can leave nothing
 * (`"   "`) and lower-casing can lengthen a tag (`"İ"` becomes two code points). A tag that would be
 * stored empty or over {@link LIMITS.tagMax} is a 422 at `<pointer>/<index>` (the index the client sent).
 */
export function checkTags(tags: string[], pointer: string): string[] {
  tags.forEach((tag, i) => {
    const length = textLength(normalizeTag(tag));
    if (length < 1 || length > LIMITS.tagMax) {
      throw validationError(`${pointer}/${i}`, `must be 1-${LIMITS.tagMax} characters after trimming and lower-casing`);
    }
  });
  const normalized = normalizeTags(tags);
  if (normalized.length > LIMITS.tagsMax) throw validationError(pointer, `must hold at most ${LIMITS.tagsMax} tags`);
  return normalized;
}
