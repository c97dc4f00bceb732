import type { Kysely } from 'kysely';

/*
 * Repairs rows that earlier versions stored from inputs they should have refused, and that the
 * response schemas refuse to serialize (so every list holding one answered 500):
 *
 * - routing queues whose `match` held a tag that normalised to nothing (`"   "` became `""`) or
 *   grew past 64 characters when lower-cased (`"İ"` is two code points in lower case). Such a tag
 *   never matched a ticket (a ticket cannot carry it), so dropping it keeps routing exactly as it
 *   was. When no usable value is left under a key, the queue matched no ticket at all: its match
 *   becomes NULL, which for a routing queue now means "matches nothing", and an admin can PATCH a
 *   new one. Duplicates are dropped the same way.
 * - instants whose UTC year was outside 0000-9999 (a date-time near 9999-12-31 with a negative
 *   offset, say), stored as `+010000-…`: clamped to the last (or first) instant the API can show.
 *
 * The rules are copied here, not imported, so that this migration keeps doing the same thing
 * however the code moves on.
 */

// Migrations use `Kysely<any>` on purpose: they must keep compiling after the schema types move on.

const TAG_MAX = 64;
const TAGS_MAX = 50;
const PRIORITIES = ['low', 'normal', 'high', 'urgent'];
const ORIGINS = ['email', 'web', 'api'];

const codePoints = (text: string): number => [...text].length;
const unique = <T>(values: T[]): T[] => [...new Set(values)];

/** The repaired match text, `null` for "matches nothing", or `undefined` when the row is fine as it is. */
export function repairedMatch(text: string): string | null | undefined {
  let match: unknown;
  try {
    match = JSON.parse(text);
  } catch {
    return null;
  }
  if (match === null || typeof match !== 'object' || Array.isArray(match)) return null;
  const given = match as Record<string, unknown>;
  const out: Record<string, string[]> = {};
  const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);
  if ('tags' in given) {
    const tags = unique(strings(given.tags).map((t) => t.trim().toLowerCase())).filter((t) => codePoints(t) >= 1 && codePoints(t) <= TAG_MAX);
    if (tags.length === 0) return null;
    out.tags = tags.slice(0, TAGS_MAX);
  }
  for (const [key, allowed] of [
    ['priority', PRIORITIES],
    ['origin', ORIGINS],
  ] as const) {
    if (!(key in given)) continue;
    const values = unique(strings(given[key]).filter((v) => allowed.includes(v)));
    if (values.length === 0) return null;
    out[key] = values;
  }
  const repaired = JSON.stringify(out);
  return repaired === text ? undefined : repaired;
}

const LAST_INSTANT = '9999-12-31T23:59:59Z';
const FIRST_INSTANT = '0000-01-01T00:00:00Z';

export async function up(db: Kysely<any>): Promise<void> {
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const queues: { id: string; match: string }[] = await db
    .selectFrom('queues')
    .select(['id', 'match'])
    .where('is_default', '=', 0)
    .where('match', 'is not', null)
    .execute();
  for (const queue of queues) {
    const match = repairedMatch(queue.match);
    if (match === undefined) continue;
    await db.updateTable('queues').set({ match, updated_at: now }).where('id', '=', queue.id).execute();
  }

  // ISO 8601 writes years past 9999 as `+010000-…` and years before 0000 as `-000001-…`.
  for (const [table, column] of [
    ['tickets', 'snoozed_until'],
    ['tokens', 'expires_at'],
    ['messages', 'created_at'],
  ] as const) {
    await db
      .updateTable(table)
      .set({ [column]: LAST_INSTANT })
      .where(column, 'like', '+%')
      .execute();
    await db
      .updateTable(table)
      .set({ [column]: FIRST_INSTANT })
      .where(column, 'like', '-%')
      .execute();
  }
}

export async function down(): Promise<void> {
  throw new Error('NexusCore migrations are forward-only');
}
