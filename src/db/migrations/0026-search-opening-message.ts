import { type Kysely, sql } from 'kysely';

/**
 * `search_documents.opens_with_description`: 1 when the ticket's first message, in conversation
 * order (created_at, then id), is its description word for word, 0 when not, null when not known.
 * A search page then takes a ticket's message highlight from the description it already read with
 * the ticket's row, and reads messages only for the tickets whose description does not match
 * (src/search/highlight.ts). It is not the same as "the ticket was created live": a merge moves
 * older messages in front of the description, and an import brings its own first message.
 *
 * Kept by the indexing that writes the document (src/search/indexing.ts), from the text it indexes.
 * Existing documents are filled here in ranges of doc ids, one UPDATE each with a correlated
 * subquery along the messages_ticket index, so memory does not grow with the data and the same
 * SQL runs on SQLite and PostgreSQL.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('search_documents').addColumn('opens_with_description', 'integer').execute();
  await backfillOpeningFlags(db);
}

const RANGE = 2_000;

export async function backfillOpeningFlags(db: Kysely<any>, range = RANGE): Promise<void> {
  const last = await db
    .selectFrom('search_documents')
    .select((eb) => eb.fn.max('doc_id').as('max'))
    .executeTakeFirst();
  const max = Number(last?.max ?? 0);
  for (let from = 0; from < max; from += range) {
    await sql`update search_documents set opens_with_description = (
        select case when t.description <> '' and t.description = (
            select m.body from messages m where m.ticket_id = t.id order by m.created_at, m.id limit 1
          ) then 1 else 0 end
        from tickets t where t.id = search_documents.ticket_id)
      where doc_id > ${from} and doc_id <= ${from + range}`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('search_documents').dropColumn('opens_with_description').execute();
}
