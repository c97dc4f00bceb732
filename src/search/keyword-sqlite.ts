/**
 * SQLite keyword index: FTS5 table `search_fts(subject, body, meta)` with rowid = doc_id,
 * tokenize 'unicode61 remove_diacritics 2' over pre-analysed text, ranked by bm25() with column
 * weights. Every query term is a quoted FTS5 string, so user text never becomes query syntax.
 */
import { sql } from 'kysely';
import { prepareQuery } from '../db/prepared.js';
import { batchEndWrites } from '../db/transactions.js';
import type { DbOrTx } from '../db/schema.js';
import { COLUMN_WEIGHTS, type KeywordIndex, type KeywordTextSqlRow, toKeywordTextRow } from './keyword-index.js';
import { quoteFtsTerm } from './text/fts-query.js';
import type { ScoredHit } from './text/fusion.js';

/** One new document's entry (a ticket create), compiled once. The FTS5 table is not in the schema's types: raw SQL. */
const insertOne = prepareQuery((db, p: { docId: number; subject: string; body: string; meta: string }) => {
  const raw = sql`insert into search_fts (rowid, subject, body, meta) values (${p.docId}, ${p.subject}, ${p.body}, ${p.meta})`;
  return { compile: () => raw.compile(db) };
});

const deleteOne = prepareQuery((db, p: { docId: number }) => {
  const raw = sql`delete from search_fts where rowid = ${p.docId}`;
  return { compile: () => raw.compile(db) };
});

const W = sql.raw(`${COLUMN_WEIGHTS.subject}, ${COLUMN_WEIGHTS.body}, ${COLUMN_WEIGHTS.meta}`);

export const sqliteKeywordIndex: KeywordIndex = {
  async upsert(trx, docs, options) {
    if (docs.length === 0) return;
    const batchEnd = batchEndWrites(trx);
    // A new document's row (a create's) waits for the end of its batch, where the batch's rows make
    // one FTS5 segment (src/db/transactions.ts, BatchEndWrites); anything else that touches the
    // table first writes what waits, so that it comes after it, as it would have.
    if (docs.length === 1 && options?.fresh && batchEnd) {
      const { docId, fields } = docs[0]!;
      batchEnd.add(() => insertOne.run(trx, { docId, subject: fields.subject, body: fields.body, meta: fields.meta }).then(() => {}));
      return;
    }
    await batchEnd?.flush();
    if (docs.length === 1) {
      const [d] = docs;
      if (!options?.fresh) await deleteOne.run(trx, { docId: d!.docId });
      await insertOne.run(trx, { docId: d!.docId, subject: d!.fields.subject, body: d!.fields.body, meta: d!.fields.meta });
      return;
    }
    for (let i = 0; i < docs.length; i += 300) {
      const chunk = docs.slice(i, i + 300);
      // An FTS5 delete of a rowid it does not hold still costs a lookup in each of its segments.
      if (!options?.fresh) await sql`delete from search_fts where rowid in (${sql.join(chunk.map((d) => d.docId))})`.execute(trx);
      await sql`insert into search_fts (rowid, subject, body, meta) values ${sql.join(
        chunk.map((d) => sql`(${d.docId}, ${d.fields.subject}, ${d.fields.body}, ${d.fields.meta})`),
      )}`.execute(trx);
    }
  },

  async search(db, q) {
    await batchEndWrites(db)?.flush();
    if (q.terms.length === 0) return [];
    const match = q.terms.map(quoteFtsTerm).join(' OR ');
    const join = q.where
      ? sql`join search_documents d on d.doc_id = search_fts.rowid ${q.joinTickets ? sql`join tickets t on t.id = d.ticket_id` : sql``}`
      : sql``;
    const where = q.where ? sql`and ${q.where}` : sql``;
    const { rows } = await sql<{ id: number; score: number }>`
      select search_fts.rowid as id, -bm25(search_fts, ${W}) as score
      from search_fts ${join}
      where search_fts match ${match} ${where}
      order by bm25(search_fts, ${W}) limit ${q.limit}`.execute(db);
    return rows as ScoredHit<number>[];
  },

  async termsOf(db, docIds) {
    await batchEndWrites(db)?.flush();
    const out = new Map<number, string[]>();
    if (docIds.length === 0) return out;
    const { rows } = await sql<{ id: number; subject: string; body: string; meta: string }>`
      select rowid as id, subject, body, meta from search_fts where rowid in (${sql.join([...docIds])})`.execute(db);
    for (const r of rows) out.set(r.id, `${r.subject} ${r.body} ${r.meta}`.split(' ').filter(Boolean));
    return out;
  },

  async textsSince(db, afterSeq, afterDocId, limit) {
    await batchEndWrites(db)?.flush();
    const { rows } = await sql<KeywordTextSqlRow>`
      select d.doc_id, d.brand_id, d.seq, k.subject, k.body, k.meta
      from search_documents d left join search_fts k on k.rowid = d.doc_id
      where d.seq >= ${afterSeq} and (d.seq > ${afterSeq} or d.doc_id > ${afterDocId})
      order by d.seq, d.doc_id limit ${limit}`.execute(db);
    return rows.map(toKeywordTextRow);
  },

  async clear(db, brandId) {
    await batchEndWrites(db)?.flush();
    if (brandId === undefined) await sql`delete from search_fts`.execute(db);
    else await sql`delete from search_fts where rowid in (select doc_id from search_documents where brand_id = ${brandId})`.execute(db);
  },

  async purgeReplaced(db) {
    await batchEndWrites(db)?.flush();
    await sql`insert into search_fts (search_fts) values ('optimize')`.execute(db);
  },
};

export type { ScoredHit, DbOrTx };
