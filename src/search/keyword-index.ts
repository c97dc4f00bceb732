/**
 * The keyword (BM25-style) side of ticket search, one implementation per SQL dialect:
 * keyword-sqlite.ts (FTS5) and keyword-postgres.ts (tsvector + GIN). Both receive text already
 * analysed by `toKeywordIndexText` (folded, stopwords removed, Porter-stemmed) and query terms
 * analysed the same way, so they return the same matches for the same input.
 *
 * The tables are the durable store; queries are ranked by the in-process index of
 * keyword-memory.ts, loaded from them through `textsSince`. `search` (SQL ranking) remains as the
 * reference the in-process ranking is checked and benched against (filters are applied in
 * process since filter-index.ts); document frequencies come from the in-process index.
 */
import type { RawBuilder } from 'kysely';
import type { DbOrTx } from '../db/schema.js';
import type { ScoredHit } from './text/fusion.js';

/** Analysed text of one ticket, per column. */
export interface KeywordFields {
  subject: string;
  /** Description and every message body. */
  body: string;
  /** Tags, customer name and email. */
  meta: string;
}

export interface KeywordTextRow {
  doc_id: number;
  brand_id: string;
  seq: number;
  fields: KeywordFields | null;
}

/** The columns both dialects' `textsSince` select, as the driver hands them back. */
export interface KeywordTextSqlRow {
  doc_id: number;
  brand_id: string;
  seq: number;
  subject: string | null;
  body: string | null;
  meta: string | null;
}

/** A document whose keyword row is missing (no subject) was removed from the index. */
export const toKeywordTextRow = (r: KeywordTextSqlRow): KeywordTextRow => ({
  doc_id: Number(r.doc_id),
  brand_id: r.brand_id,
  seq: Number(r.seq),
  fields: r.subject === null ? null : { subject: r.subject, body: r.body ?? '', meta: r.meta ?? '' },
});

export interface KeywordSearch {
  /** Analysed terms, OR-ed; a term repeated n times counts n times where the dialect allows. */
  terms: readonly string[];
  /** SQL condition over `d` (search_documents) and `t` (tickets) that every hit must satisfy. */
  where: RawBuilder<unknown> | null;
  /** Whether `where` mentions `t` (tickets), so the join is needed. */
  joinTickets: boolean;
  limit: number;
}

export interface KeywordIndex {
  /**
   * Replaces the entries of these documents (doc_id -> fields). `fresh`: the documents were just
   * inserted (doc ids are never reused), so there is no old entry to remove.
   */
  upsert(trx: DbOrTx, docs: ReadonlyArray<{ docId: number; fields: KeywordFields }>, options?: { fresh?: boolean }): Promise<void>;
  /** Best matches first; `score` is positive, higher is better. */
  search(db: DbOrTx, query: KeywordSearch): Promise<ScoredHit<number>[]>;
  /** The analysed terms of each document (for query feedback). */
  termsOf(db: DbOrTx, docIds: readonly number[]): Promise<Map<number, string[]>>;
  /**
   * Documents changed after (afterSeq, afterDocId), in (seq, doc_id) order, at most `limit`, with
   * their stored analysed text (null fields: no keyword entry), for the in-process index. Every
   * process's index catches up through this at each search: it must be a range scan from
   * `afterSeq` (`d.seq >= afterSeq` written out), never a scan of the table.
   */
  textsSince(db: DbOrTx, afterSeq: number, afterDocId: number, limit: number): Promise<KeywordTextRow[]>;
  /** Removes every entry (of one brand's documents when given). */
  clear(db: DbOrTx, brandId?: string): Promise<void>;
  /**
   * Rewrites the index's storage so that no replaced or removed entry is left in it: erasing a
   * person must not leave their words behind. SQLite FTS5 keeps every earlier version of a
   * document's terms in older segments, masked by delete markers, until the segments are merged;
   * `optimize` merges them all into one (its cost grows with the whole index: docs/api.md). Absent
   * on PostgreSQL, where replaced rows are dead tuples that VACUUM reclaims.
   */
  purgeReplaced?(db: DbOrTx): Promise<void>;
}

/** bm25 column weights: a word in the subject counts twice a word of the conversation. */
export const COLUMN_WEIGHTS = { subject: 2, body: 1, meta: 1 } as const;
