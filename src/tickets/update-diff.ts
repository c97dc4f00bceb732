import type { TicketRow } from '../db/schema.js';
import { validationError } from '../http/problem.js';
import { parseInstant, toTimestamp } from '../shared/clock.js';
import { toJsonText } from '../shared/json.js';
import { type Changes, LIMITS, PRIORITY_RANK, type Priority, type Status, checkMetadata, checkTags, normalizeEmail } from './model.js';

export interface UpdateTicketInput {
  status?: Status | undefined;
  priority?: Priority | undefined;
  assigned_to?: string | null | undefined;
  tags?: string[] | undefined;
  /** Tags to add to the current set (kept in order, after the existing ones); not with `tags`. */
  tags_add?: string[] | undefined;
  /** Tags to take out of the current set; not with `tags`. */
  tags_remove?: string[] | undefined;
  snoozed_until?: string | null | undefined;
  subject?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
}

/** What a partial update does to a ticket, before routing and versioning. */
export interface TicketUpdateDiff {
  /** The columns that change, with their stored values; empty when nothing changes. */
  set: Partial<TicketRow>;
  /** The same changes as the API shows them, `{ field: { from, to } }`, in a fixed field order. */
  changes: Changes;
  /** The new tag list when the tags change, for the tag index; undefined otherwise. */
  tags: string[] | undefined;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * Turns an update request and the ticket as it is into the changes to write. Only the fields present
 * count, and a field set to its current value is no change. Throws a 422 naming the field for a
 * blank subject, a bad tag or metadata, and a `snoozed_until` that is not a future date-time or
 * comes without the ticket being (or becoming) snoozed. Leaving the snoozed status clears
 * `snoozed_until`. Pure: `now` is the only clock.
 */
export function diffTicketUpdate(row: TicketRow, input: UpdateTicketInput, now: Date): TicketUpdateDiff {
  const set: Partial<TicketRow> = {};
  const changes: Changes = {};
  let tags: string[] | undefined;
  const change = <K extends keyof TicketRow>(field: K, to: TicketRow[K]) => {
    if (same(row[field], to)) return;
    set[field] = to;
    changes[field] = { from: row[field], to };
  };
  if (input.subject !== undefined) {
    const subject = input.subject.trim();
    if (!subject) throw validationError('/subject', 'must not be blank');
    change('subject', subject);
  }
  if (input.priority !== undefined) {
    change('priority', input.priority);
    if (set.priority) set.priority_rank = PRIORITY_RANK[input.priority];
  }
  if (input.assigned_to !== undefined) {
    change('assigned_to', input.assigned_to ? normalizeEmail(input.assigned_to) : null);
  }
  const editsTags = input.tags_add !== undefined || input.tags_remove !== undefined;
  if (input.tags !== undefined && editsTags) {
    throw validationError(input.tags_add !== undefined ? '/tags_add' : '/tags_remove', 'cannot be combined with tags, which replaces the whole set');
  }
  let wanted: string[] | undefined;
  if (input.tags !== undefined) wanted = checkTags(input.tags, '/tags');
  if (editsTags) {
    // Applied to the row as read in the update's transaction (locked), so concurrent edits compose.
    const add = checkTags(input.tags_add ?? [], '/tags_add');
    const remove = new Set(input.tags_remove === undefined ? [] : checkTags(input.tags_remove, '/tags_remove'));
    const both = add.findIndex((tag) => remove.has(tag));
    if (both !== -1) throw validationError(`/tags_add/${both}`, `tag "${add[both]}" cannot be both added and removed`);
    const current = JSON.parse(row.tags) as string[];
    const next = [...new Set([...current, ...add])].filter((tag) => !remove.has(tag));
    if (next.length > LIMITS.tagsMax) throw validationError('/tags_add', `would leave more than ${LIMITS.tagsMax} tags on the ticket`);
    wanted = next;
  }
  if (wanted !== undefined) {
    const normalized = wanted;
    const before = JSON.parse(row.tags) as string[];
    if (!same(before, normalized)) {
      tags = normalized;
      set.tags = toJsonText(normalized);
      changes.tags = { from: before, to: normalized };
    }
  }
  if (input.metadata !== undefined) {
    checkMetadata(input.metadata);
    const before = JSON.parse(row.metadata) as Record<string, unknown>;
    if (!same(before, input.metadata)) {
      set.metadata = toJsonText(input.metadata);
      changes.metadata = { from: before, to: input.metadata };
    }
  }
  const status = input.status ?? (row.status as Status);
  if (input.status !== undefined) change('status', input.status);
  if (status === 'snoozed') {
    if (input.snoozed_until !== undefined && input.snoozed_until !== null) {
      const until = parseInstant(input.snoozed_until);
      if (!until) throw validationError('/snoozed_until', 'must be an RFC 3339 date-time');
      if (until.getTime() <= now.getTime()) throw validationError('/snoozed_until', 'must be in the future');
      change('snoozed_until', toTimestamp(until));
    } else if (input.snoozed_until === null) {
      change('snoozed_until', null);
    }
  } else {
    if (input.snoozed_until !== undefined && input.snoozed_until !== null) {
      throw validationError('/snoozed_until', 'applies only to snoozed tickets; send status "snoozed" with it');
    }
    change('snoozed_until', null);
  }
  return { set, changes, tags };
}
