/**
 * SQL of the in-process filter index (filter-index.ts): each search document's ticket fields that
 * searches filter by, read by the change counter like the other in-process indexes.
 */
import { sql } from 'kysely';
import { dialectOf } from '../db/dialect-of.js';
import type { DbOrTx } from '../db/schema.js';

export interface FilterFieldsRow {
  doc_id: number;
  seq: number;
  brand_id: string;
  /** null when the document's ticket row is missing (then the document matches no filter). */
  status: string | null;
  priority: string | null;
  assigned_to: string | null;
  created_at: string | null;
  /** JSON array text, as stored in `tickets.tags`. */
  tags: string | null;
  ticket_id: string;
  /** Where the ticket's row lies in `tickets`: its rowid on SQLite; null on PostgreSQL, or when the row is missing. */
  ticket_rowid: number | null;
  /** The ticket's version (its ETag), which every change of its fields or conversation moves. */
  version: number | null;
  /** `search_documents.opens_with_description`, as of `version`: written with the ticket's change. */
  opens_with_description: number | null;
}

/**
 * Documents changed after (afterSeq, afterDocId), in (seq, doc_id) order, at most `limit`, with
 * their ticket's filter fields. A range scan of `search_documents_seq` from `afterSeq` (spelled
 * out, as in `vectorsSince`) plus one primary-key probe of `tickets` per row; a LEFT join, so that
 * a batch holds exactly `limit` rows whenever that many changed (the follower stops at a short
 * batch). Every ticket change bumps its document's `seq` in the change's transaction
 * (indexing.ts), so the fields read here are never older than the counter says. On SQLite also
 * the ticket row's rowid, where a search page reads it from (`ticketsOfDocuments`).
 */
export async function filterFieldsSince(db: DbOrTx, afterSeq: number, afterDocId: number, limit: number): Promise<FilterFieldsRow[]> {
  const rows = await db
    .selectFrom('search_documents as d')
    .leftJoin('tickets as t', 't.id', 'd.ticket_id')
    .select([
      'd.doc_id',
      'd.seq',
      'd.brand_id',
      'd.ticket_id',
      'd.opens_with_description',
      't.status',
      't.priority',
      't.assigned_to',
      't.created_at',
      't.tags',
      't.version',
    ])
    .select(dialectOf(db) === 'sqlite' ? sql<number | null>`t.rowid`.as('ticket_rowid') : sql<null>`null`.as('ticket_rowid'))
    .where('d.seq', '>=', afterSeq)
    .where((eb) => eb.or([eb('d.seq', '>', afterSeq), eb('d.doc_id', '>', afterDocId)]))
    .orderBy('d.seq')
    .orderBy('d.doc_id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    ...r,
    doc_id: Number(r.doc_id),
    seq: Number(r.seq),
    ticket_rowid: r.ticket_rowid === null ? null : Number(r.ticket_rowid),
    version: r.version === null ? null : Number(r.version),
    opens_with_description: r.opens_with_description === null ? null : Number(r.opens_with_description),
  }));
}
