import { type Kysely, sql } from 'kysely';
import { messagePreview } from '../../shared/message-preview.js';

/**
 * The inbox's line under the subject (issue 15): `tickets.last_message_preview`, the first line of
 * the latest message that is not an internal note, kept by every write of a message from here on.
 * Existing tickets are backfilled in pages of ticket ids, each reading the latest body of every
 * ticket of the page (one correlated subquery, along the messages_ticket index) and writing the
 * page's previews in one UPDATE, so the migration's memory does not grow with the data and the
 * same SQL runs on SQLite and PostgreSQL.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('tickets').addColumn('last_message_preview', 'text').execute();
  await backfillPreviews(db);
}

const PAGE = 500;

export async function backfillPreviews(db: Kysely<any>, page = PAGE): Promise<void> {
  let after = '';
  for (;;) {
    const rows = await db
      .selectFrom('tickets as t')
      .select((eb) => [
        't.id',
        eb
          .selectFrom('messages as m')
          .select('m.body')
          .whereRef('m.ticket_id', '=', 't.id')
          .where('m.visibility', '<>', 'internal')
          .orderBy('m.created_at', 'desc')
          .orderBy('m.id', 'desc')
          .limit(1)
          .as('body'),
      ])
      .where('t.id', '>', after)
      .orderBy('t.id')
      .limit(page)
      .execute();
    if (rows.length === 0) return;
    after = rows[rows.length - 1]!.id as string;
    const previews = rows
      .map((r) => ({ id: r.id as string, preview: r.body === null ? null : messagePreview(r.body as string) }))
      .filter((r): r is { id: string; preview: string } => r.preview !== null);
    if (previews.length === 0) continue;
    const cases = sql.join(
      previews.map((p) => sql`when ${p.id} then ${p.preview}`),
      sql` `,
    );
    await db
      .updateTable('tickets')
      .set({ last_message_preview: sql`case id ${cases} end` })
      .where(
        'id',
        'in',
        previews.map((p) => p.id),
      )
      .execute();
  }
}

export async function down(): Promise<void> {
  throw new Error('NexusCore migrations are forward-only');
}
