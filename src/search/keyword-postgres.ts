/**
 * PostgreSQL keyword index: table `search_keyword(doc_id, subject, body, meta, tsv)` with a GIN
 * index on `tsv`. The text is analysed before it gets here, so the 'simple' configuration (lower
 * case, no stemming, no stopwords) keeps our terms as they are; subject, body and meta get the
 * weights A, B and C. Ranked by ts_rank with length normalisation (1 + log length), the closest
 * BM25-like ranking PostgreSQL has without extensions. Terms are passed as quoted tsquery lexemes.
 */
import { sql } from 'kysely';
import { sendWrite } from '../db/prepared.js';
import { COLUMN_WEIGHTS, type KeywordIndex, type KeywordTextSqlRow, toKeywordTextRow } from './keyword-index.js';
import type { ScoredHit } from './text/fusion.js';

/** `'term'` lexemes OR-ed; our terms are letters and digits only, quotes are escaped anyway. */
export function toTsQuery(terms: readonly string[]): string {
  return [...new Set(terms)].map((t) => `'${t.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`).join(' | ');
}

// ts_rank weights are listed {D, C, B, A}; relative to the subject's 1.0.
const RANK_WEIGHTS = `{0, ${COLUMN_WEIGHTS.meta / COLUMN_WEIGHTS.subject}, ${COLUMN_WEIGHTS.body / COLUMN_WEIGHTS.subject}, 1}`;

export const postgresKeywordIndex: KeywordIndex = {
  async upsert(trx, docs) {
    for (let i = 0; i < docs.length; i += 300) {
      const chunk = docs.slice(i, i + 300);
      if (chunk.length === 0) continue;
      // Sent without waiting in a group commit's unit (nothing is read from its answer).
      await sendWrite(
        trx,
        sql`
        insert into search_keyword (doc_id, subject, body, meta, tsv)
        select v.doc_id, v.subject, v.body, v.meta,
          setweight(to_tsvector('simple', v.subject), 'A') || setweight(to_tsvector('simple', v.body), 'B') || setweight(to_tsvector('simple', v.meta), 'C')
        from (values ${sql.join(chunk.map((d) => sql`(${d.docId}::integer, ${d.fields.subject}::text, ${d.fields.body}::text, ${d.fields.meta}::text)`))})
          as v(doc_id, subject, body, meta)
        on conflict (doc_id) do update set subject = excluded.subject, body = excluded.body, meta = excluded.meta, tsv = excluded.tsv`.compile(trx),
      );
    }
  },

  async search(db, q) {
    if (q.terms.length === 0) return [];
    const join = q.where ? sql`join search_documents d on d.doc_id = k.doc_id ${q.joinTickets ? sql`join tickets t on t.id = d.ticket_id` : sql``}` : sql``;
    const where = q.where ? sql`and ${q.where}` : sql``;
    const { rows } = await sql<{ id: number; score: number }>`
      select k.doc_id as id, ts_rank(${RANK_WEIGHTS}::float4[], k.tsv, query, 1) as score
      from search_keyword k ${join}, to_tsquery('simple', ${toTsQuery(q.terms)}) query
      where k.tsv @@ query ${where}
      order by score desc, k.doc_id limit ${q.limit}`.execute(db);
    return rows.map((r) => ({ id: Number(r.id), score: Number(r.score) })) as ScoredHit<number>[];
  },

  async termsOf(db, docIds) {
    const out = new Map<number, string[]>();
    if (docIds.length === 0) return out;
    const { rows } = await sql<{ id: number; subject: string; body: string; meta: string }>`
      select doc_id as id, subject, body, meta from search_keyword where doc_id in (${sql.join([...docIds])})`.execute(db);
    for (const r of rows) out.set(Number(r.id), `${r.subject} ${r.body} ${r.meta}`.split(' ').filter(Boolean));
    return out;
  },

  async textsSince(db, afterSeq, afterDocId, limit) {
    const { rows } = await sql<KeywordTextSqlRow>`
      select d.doc_id, d.brand_id, d.seq, k.subject, k.body, k.meta
      from search_documents d left join search_keyword k on k.doc_id = d.doc_id
      where d.seq >= ${afterSeq} and (d.seq > ${afterSeq} or d.doc_id > ${afterDocId})
      order by d.seq, d.doc_id limit ${limit}`.execute(db);
    return rows.map(toKeywordTextRow);
  },

  async clear(db, brandId) {
    if (brandId === undefined) await sql`delete from search_keyword`.execute(db);
    else await sql`delete from search_keyword where doc_id in (select doc_id from search_documents where brand_id = ${brandId})`.execute(db);
  },
};
