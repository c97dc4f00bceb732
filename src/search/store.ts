/**
 * SQL of the search module shared by both dialects: the documents table, the change counter, the
 * remote embedding queue, the filter conditions and the texts a ticket is indexed from.
 */
import { type ExpressionBuilder, type OnConflictDatabase, type OnConflictTables, type RawBuilder, type Selectable, sql } from 'kysely';
import type { Static } from 'typebox';
import { preparedPerLength, prepareQuery, slotList } from '../db/prepared.js';
import type { Database, DbOrTx, SearchEmbedQueueTable, TicketRow } from '../db/schema.js';
import { analyzeKeywordTerms, toKeywordIndexText } from './text/tokenize.js';
import type { KeywordFields } from './keyword-index.js';
import type { SearchFilters as SearchFiltersSchema } from './schemas.js';

/** Longest text indexed per column; longer conversations are cut (the start is kept). */
const MAX_COLUMN_CHARS = 100_000;

/** What a ticket is searched by. */
export interface TicketText {
  ticketId: string;
  brandId: string;
  subject: string;
  /** Description and every message body, oldest first. */
  body: string;
  /** Tags, customer name and email. */
  meta: string;
  /** The first message, in conversation order, is the description word for word (`search_documents.opens_with_description`). */
  opensWithDescription: boolean;
}

/** What a new ticket is searched by, from its row: its one message is its description. */
export function newTicketText(t: Pick<TicketRow, 'id' | 'brand_id' | 'subject' | 'description' | 'tags' | 'customer_name' | 'customer_email'>): TicketText {
  return textOf(t, t.description ? [t.description] : []);
}

/** A ticket's text from its row and its message bodies, oldest first. */
function textOf(t: Pick<TicketRow, 'id' | 'brand_id' | 'subject' | 'description' | 'tags' | 'customer_name' | 'customer_email'>, parts: string[]): TicketText {
  const opensWithDescription = t.description !== '' && parts[0] === t.description;
  // The description is also the first customer message; index it once.
  if (t.description && !parts.includes(t.description)) parts.unshift(t.description);
  const tags = JSON.parse(t.tags) as string[];
  return {
    ticketId: t.id,
    brandId: t.brand_id,
    subject: t.subject,
    body: parts.join('\n').slice(0, MAX_COLUMN_CHARS),
    meta: [...tags, t.customer_name ?? '', t.customer_email].join(' ').slice(0, MAX_COLUMN_CHARS),
    opensWithDescription,
  };
}

const ticketTextRow = prepareQuery((db, p: { id: string }) =>
  db.selectFrom('tickets').select(['id', 'brand_id', 'subject', 'description', 'tags', 'customer_name', 'customer_email']).where('id', '=', p.id),
);
const messageBodies = prepareQuery((db, p: { id: string }) =>
  db.selectFrom('messages').select('body').where('ticket_id', '=', p.id).orderBy('created_at').orderBy('id'),
);

/** Loads the searchable text of tickets (missing ids are skipped). */
export async function loadTicketTexts(db: DbOrTx, ticketIds: readonly string[]): Promise<TicketText[]> {
  if (ticketIds.length === 0) return [];
  // One ticket (a reply, an update of its text): two statements built once.
  if (ticketIds.length === 1) {
    const ticket = await ticketTextRow.first(db, { id: ticketIds[0]! });
    if (!ticket) return [];
    return [
      textOf(
        ticket,
        (await messageBodies.all(db, { id: ticketIds[0]! })).map((m) => m.body),
      ),
    ];
  }
  const out: TicketText[] = [];
  for (let i = 0; i < ticketIds.length; i += 500) {
    const ids = ticketIds.slice(i, i + 500);
    const tickets = await db
      .selectFrom('tickets')
      .select(['id', 'brand_id', 'subject', 'description', 'tags', 'customer_name', 'customer_email'])
      .where('id', 'in', ids)
      .execute();
    const messages = await db
      .selectFrom('messages')
      .select(['ticket_id', 'body'])
      .where('ticket_id', 'in', ids)
      .orderBy('ticket_id')
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    const bodies = new Map<string, string[]>();
    for (const m of messages) {
      const list = bodies.get(m.ticket_id);
      if (list) list.push(m.body);
      else bodies.set(m.ticket_id, [m.body]);
    }
    for (const t of tickets) out.push(textOf(t, bodies.get(t.id) ?? []));
  }
  return out;
}

export function keywordFieldsOf(text: TicketText): KeywordFields {
  return { subject: toKeywordIndexText(text.subject), body: toKeywordIndexText(text.body), meta: toKeywordIndexText(text.meta) };
}

/** The text the semantic side embeds: what the ticket is about, not who sent it. */
export const semanticTextOf = (text: TicketText): string => `${text.subject}\n${text.body}`;

/**
 * Terms of a user query for the keyword side: analysed like the index, unique, at most 32, each at
 * most 64 characters. Empty when nothing searchable remains (only punctuation, emoji, stopwords).
 */
export function queryTerms(text: string): string[] {
  const out: string[] = [];
  for (const t of analyzeKeywordTerms(text)) {
    const term = t.length > 64 ? t.slice(0, 64) : t;
    if (term && !out.includes(term)) out.push(term);
    if (out.length >= 32) break;
  }
  return out;
}

/** Advances the change counter inside the caller's transaction; returns the new value and the fitted components' id. */
export async function nextSeq(trx: DbOrTx): Promise<{ seq: number; componentsId: string | null }> {
  const row = (await advanceSeq.first(trx, {}))!;
  return { seq: Number(row.seq), componentsId: row.components_id };
}

const advanceSeq = prepareQuery((db) =>
  db
    .updateTable('search_state')
    .set((eb) => ({ seq: eb('seq', '+', 1) }))
    .where('id', '=', 1)
    .returning(['seq', 'components_id']),
);

export async function readState(db: DbOrTx): Promise<{ seq: number; componentsId: string | null }> {
  const row = await db.selectFrom('search_state').select(['seq', 'components_id']).where('id', '=', 1).executeTakeFirstOrThrow();
  return { seq: Number(row.seq), componentsId: row.components_id };
}

export async function readComponents(db: DbOrTx): Promise<{ components: Uint8Array | null; componentsId: string | null }> {
  const row = await db.selectFrom('search_state').select(['components', 'components_id']).where('id', '=', 1).executeTakeFirstOrThrow();
  return { components: row.components, componentsId: row.components_id };
}

export async function writeComponents(db: DbOrTx, components: Uint8Array | null, componentsId: string | null, at: string): Promise<void> {
  await db
    .updateTable('search_state')
    .set({ components: components ? Buffer.from(components) : null, components_id: componentsId, updated_at: at })
    .where('id', '=', 1)
    .execute();
}

export interface DocumentUpsert {
  ticketId: string;
  brandId: string;
  embedderId: string | null;
  vector: Buffer | null;
  opensWithDescription: boolean;
}

/** A document row's values, as the prepared statements below take them (one slot each). */
type DocumentParams = {
  ticket_id: string;
  brand_id: string;
  embedder_id: string | null;
  vector: Buffer | null;
  seq: number;
  indexed_at: string;
  opens_with_description: number;
};
const documentParams = (d: DocumentUpsert, seq: number, at: string): DocumentParams => ({
  ticket_id: d.ticketId,
  brand_id: d.brandId,
  embedder_id: d.embedderId,
  vector: d.vector,
  seq,
  indexed_at: at,
  opens_with_description: d.opensWithDescription ? 1 : 0,
});
// Copied field by field: a slots object hands out a placeholder for any name asked of it.
const documentValues = (p: DocumentParams): DocumentParams => ({
  ticket_id: p.ticket_id,
  brand_id: p.brand_id,
  embedder_id: p.embedder_id,
  vector: p.vector,
  seq: p.seq,
  indexed_at: p.indexed_at,
  opens_with_description: p.opens_with_description,
});
/**
 * What an upsert of an existing document rewrites. A vector pending from a remote endpoint
 * (`keepVector`) keeps the previous one until it arrives.
 */
const documentConflictSet = (
  eb: ExpressionBuilder<OnConflictDatabase<Database, 'search_documents'>, OnConflictTables<'search_documents'>>,
  keepVector: boolean,
) => ({
  ...(keepVector ? {} : { embedder_id: eb.ref('excluded.embedder_id'), vector: eb.ref('excluded.vector') }),
  seq: eb.ref('excluded.seq'),
  indexed_at: eb.ref('excluded.indexed_at'),
  opens_with_description: eb.ref('excluded.opens_with_description'),
});
const documentUpsert = (db: DbOrTx, p: DocumentParams, keepVector: boolean) =>
  db
    .insertInto('search_documents')
    .values(documentValues(p))
    .onConflict((oc) => oc.column('ticket_id').doUpdateSet((eb) => documentConflictSet(eb, keepVector)))
    .returning(['doc_id', 'ticket_id']);
const upsertOne = prepareQuery((db, p: DocumentParams) => documentUpsert(db, p, false));
const upsertOneKeepingVector = prepareQuery((db, p: DocumentParams) => documentUpsert(db, p, true));

const insertDocument = prepareQuery((db, p: DocumentParams) => db.insertInto('search_documents').values(documentValues(p)).returning('doc_id'));

/** Inserts the document of a ticket that has none (one just created); returns its doc_id. */
export async function insertNewDocument(trx: DbOrTx, doc: DocumentUpsert, seq: number, at: string): Promise<number> {
  const row = await insertDocument.first(trx, documentParams(doc, seq, at));
  return Number(row!.doc_id);
}

/** Inserts or updates document rows; returns ticket_id -> doc_id. */
export async function upsertDocuments(
  trx: DbOrTx,
  docs: readonly DocumentUpsert[],
  seq: number,
  at: string,
  options: { keepVector?: boolean } = {},
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (docs.length === 1) {
    const [d] = docs;
    const row = await (options.keepVector ? upsertOneKeepingVector : upsertOne).first(trx, documentParams(d!, seq, at));
    out.set(row!.ticket_id, Number(row!.doc_id));
    return out;
  }
  for (let i = 0; i < docs.length; i += 300) {
    const chunk = docs.slice(i, i + 300);
    if (chunk.length === 0) continue;
    const rows = await trx
      .insertInto('search_documents')
      .values(chunk.map((d) => documentParams(d, seq, at)))
      .onConflict((oc) => oc.column('ticket_id').doUpdateSet((eb) => documentConflictSet(eb, options.keepVector ?? false)))
      .returning(['doc_id', 'ticket_id'])
      .execute();
    for (const r of rows) out.set(r.ticket_id, Number(r.doc_id));
  }
  return out;
}

/**
 * Gives a ticket's document a new `seq` without touching its text or vector, so that whatever
 * follows the documents re-reads its filter fields. False when the ticket has no document yet.
 */
export async function touchDocument(trx: DbOrTx, ticketId: string, seq: number, at: string): Promise<boolean> {
  const result = await trx.updateTable('search_documents').set({ seq, indexed_at: at }).where('ticket_id', '=', ticketId).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Sets the vector a remote endpoint returned for a ticket's document. */
export async function writeDocumentVector(trx: DbOrTx, ticketId: string, vector: Buffer, embedderId: string, seq: number, at: string): Promise<void> {
  await trx.updateTable('search_documents').set({ vector, embedder_id: embedderId, seq, indexed_at: at }).where('ticket_id', '=', ticketId).execute();
}

/** Whether any ticket is indexed at all. */
export async function hasDocuments(db: DbOrTx): Promise<boolean> {
  return (await db.selectFrom('search_documents').select('doc_id').limit(1).executeTakeFirst()) !== undefined;
}

/**
 * The largest `doc_id`, read off the end of the primary key: an upper bound on the number of
 * documents (doc ids are distinct positive integers), at the cost of one index descent. 0 when
 * there is none.
 */
export async function maxDocId(db: DbOrTx): Promise<number> {
  const row = await db.selectFrom('search_documents').select('doc_id').orderBy('doc_id', 'desc').limit(1).executeTakeFirst();
  return row ? Number(row.doc_id) : 0;
}

/** The number of documents: a scan of an index, proportional to the corpus (~100 ms at a million). */
export async function countDocuments(db: DbOrTx): Promise<number> {
  return Number(
    (
      await db
        .selectFrom('search_documents')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );
}

export interface VectorRow {
  doc_id: number;
  brand_id: string;
  vector: Uint8Array;
  seq: number;
}

/**
 * Vectors of one embedder changed after `afterSeq`, in seq order, at most `limit`. The bound
 * `seq >= afterSeq` is spelled out so that the plan is a range scan of search_documents_seq from
 * the follower's position (`seq > a or (seq = a and …)` alone let PostgreSQL scan the index from
 * its start): a catch-up reads only what changed, however large the table.
 */
export async function vectorsSince(db: DbOrTx, embedderId: string, afterSeq: number, afterDocId: number, limit: number): Promise<VectorRow[]> {
  const rows = await db
    .selectFrom('search_documents')
    .select(['doc_id', 'brand_id', 'vector', 'seq'])
    .where('embedder_id', '=', embedderId)
    .where('seq', '>=', afterSeq)
    .where((eb) => eb.or([eb('seq', '>', afterSeq), eb('doc_id', '>', afterDocId)]))
    .orderBy('seq')
    .orderBy('doc_id')
    .limit(limit)
    .execute();
  return rows.filter((r) => r.vector !== null).map((r) => ({ doc_id: Number(r.doc_id), brand_id: r.brand_id, vector: r.vector!, seq: Number(r.seq) }));
}

type RequestFilters = Omit<Static<typeof SearchFiltersSchema>, 'brand_id'>;

/** A search request's filters as the service resolved them (normalised, instants as stored; undefined when not given). */
export type SearchFilters = { [K in keyof RequestFilters]?: RequestFilters[K] | undefined } & {
  /** null: every brand; otherwise the brands the caller may see and asked for (possibly none). */
  brandIds: string[] | null;
};

/** SQL over `d` (search_documents) and `t` (tickets), or null when nothing restricts the search. */
export function filterCondition(f: SearchFilters): { where: RawBuilder<unknown> | null; joinTickets: boolean } {
  const parts: RawBuilder<unknown>[] = [];
  let joinTickets = false;
  if (f.brandIds) parts.push(f.brandIds.length ? sql`d.brand_id in (${sql.join(f.brandIds)})` : sql`1 = 0`);
  const t = (cond: RawBuilder<unknown>) => {
    joinTickets = true;
    parts.push(cond);
  };
  if (f.status) t(sql`t.status = ${f.status}`);
  if (f.priority) t(sql`t.priority = ${f.priority}`);
  if (f.assigned_to) t(sql`t.assigned_to = ${f.assigned_to}`);
  if (f.created_after) t(sql`t.created_at > ${f.created_after}`);
  if (f.created_before) t(sql`t.created_at < ${f.created_before}`);
  for (const tag of f.tags ?? []) t(sql`exists (select 1 from ticket_tags tt where tt.ticket_id = t.id and tt.tag = ${tag})`);
  return { where: parts.length ? sql.join(parts, sql` and `) : null, joinTickets };
}

/** Tickets (of one brand when given) a reindex walks. */
export async function countTickets(db: DbOrTx, brandId?: string): Promise<number> {
  let q = db.selectFrom('tickets');
  if (brandId) q = q.where('brand_id', '=', brandId);
  return Number((await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
}

/** The next `limit` ticket ids after `afterId` in id order (of one brand when given): a reindex batch. */
export async function ticketIdsAfter(db: DbOrTx, afterId: string, limit: number, brandId?: string): Promise<string[]> {
  let q = db.selectFrom('tickets').select('id');
  if (brandId) q = q.where('brand_id', '=', brandId);
  return (await q.where('id', '>', afterId).orderBy('id').limit(limit).execute()).map((r) => r.id);
}

/** Ids of the `limit` newest tickets (the sample the embedder's common components are fitted on). */
export async function newestTicketIds(db: DbOrTx, limit: number): Promise<string[]> {
  return (await db.selectFrom('tickets').select('id').orderBy('id', 'desc').limit(limit).execute()).map((r) => r.id);
}

const highlightMessagesOf = preparedPerLength((n) =>
  prepareQuery((qb, p: { ids: string[] }) =>
    qb.selectFrom('messages').select(['ticket_id', 'body']).where('ticket_id', 'in', slotList(p.ids, n)).orderBy('created_at').orderBy('id'),
  ),
);

/** The messages of these tickets, oldest first, for their highlights. */
export async function highlightMessages(db: DbOrTx, ticketIds: readonly string[]): Promise<{ ticket_id: string; body: string }[]> {
  if (ticketIds.length === 0) return [];
  return highlightMessagesOf(ticketIds.length).all(db, { ids: [...ticketIds] });
}

export type EmbedQueueRow = Selectable<SearchEmbedQueueTable>;

/** Queues tickets for the remote embedder; a ticket already queued starts over (now, no attempts). */
export async function queueForEmbedding(trx: DbOrTx, ticketIds: readonly string[], at: string): Promise<void> {
  await trx
    .insertInto('search_embed_queue')
    .values(ticketIds.map((ticketId) => ({ ticket_id: ticketId, queued_at: at, attempts: 0 })))
    .onConflict((oc) => oc.column('ticket_id').doUpdateSet({ queued_at: at, attempts: 0 }))
    .execute();
}

/** The next `limit` queued tickets: fewest attempts first, then oldest. */
export async function nextQueuedForEmbedding(db: DbOrTx, limit: number): Promise<EmbedQueueRow[]> {
  return db.selectFrom('search_embed_queue').selectAll().orderBy('attempts').orderBy('queued_at').orderBy('ticket_id').limit(limit).execute();
}

/** Counts one more failed attempt for each of these queued tickets. */
export async function countEmbeddingAttempt(db: DbOrTx, ticketIds: readonly string[]): Promise<void> {
  if (ticketIds.length === 0) return;
  await db
    .updateTable('search_embed_queue')
    .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
    .where('ticket_id', 'in', [...ticketIds])
    .execute();
}

/** Takes a ticket off the queue, unless it was queued again since `queuedAt` (changed meanwhile). */
export async function dequeueEmbedding(trx: DbOrTx, ticketId: string, queuedAt: string): Promise<void> {
  await trx.deleteFrom('search_embed_queue').where('ticket_id', '=', ticketId).where('queued_at', '=', queuedAt).execute();
}

const ticketsByDocs = preparedPerLength((n) =>
  prepareQuery((qb, p: { docIds: number[] }) =>
    qb
      .selectFrom('search_documents')
      .innerJoin('tickets', 'tickets.id', 'search_documents.ticket_id')
      .selectAll('tickets')
      .select('search_documents.doc_id')
      .where('search_documents.doc_id', 'in', slotList(p.docIds, n)),
  ),
);

/**
 * Where the ticket row of a search document lies, as an in-process index last saw it
 * (filter-index.ts): its SQLite rowid (0 when not known), and a check that a row read there is
 * still that document's ticket.
 */
export interface TicketRowLocator {
  rowidOf(docId: number): number;
  isTicketOf(docId: number, ticketId: string): boolean;
}

const ticketsByRowids = preparedPerLength((n) =>
  prepareQuery((qb, p: { rowids: number[] }) =>
    qb.selectFrom('tickets').selectAll().select(sql<number>`rowid`.as('ticket_rowid')).where(sql<number>`rowid`, 'in', slotList(p.rowids, n)),
  ),
);

/**
 * The tickets of these search documents, by doc id: a statement for a page of hits. With a
 * `located` index, the tickets whose rows it knows are read by rowid, one B-tree descent each
 * instead of three (the document's row, the ticket id's index, the ticket's row): at a million
 * tickets those are three random pages of an 11-GB file per hit. A ticket keeps its rowid while it
 * exists, except through a VACUUM or a statement that sets the rowid, which no index hears of: so
 * each row read is checked to be the document's ticket, and the documents not known or not matched
 * are read through `search_documents`, as without an index.
 */
export async function ticketsOfDocuments(db: DbOrTx, docIds: readonly number[], located?: TicketRowLocator): Promise<Map<number, TicketRow>> {
  const out = new Map<number, TicketRow>();
  if (docIds.length === 0) return out;
  let rest = docIds;
  if (located) {
    const rowids = docIds.map((d) => located.rowidOf(d));
    const known = rowids.filter((r) => r > 0);
    if (known.length > 0) {
      const byRowid = new Map<number, TicketRow>();
      for (const { ticket_rowid, ...row } of await ticketsByRowids(known.length).all(db, { rowids: known })) byRowid.set(Number(ticket_rowid), row);
      const notFound: number[] = [];
      docIds.forEach((d, i) => {
        const row = byRowid.get(rowids[i]!);
        if (row && located.isTicketOf(d, row.id)) out.set(d, row);
        else notFound.push(d);
      });
      rest = notFound;
    }
  }
  if (rest.length === 0) return out;
  for (const { doc_id, ...row } of await ticketsByDocs(rest.length).all(db, { docIds: [...rest] })) out.set(Number(doc_id), row);
  return out;
}

const ticketIdsByDocs = preparedPerLength((n) =>
  prepareQuery((qb, p: { docIds: number[] }) => qb.selectFrom('search_documents').select(['doc_id', 'ticket_id']).where('doc_id', 'in', slotList(p.docIds, n))),
);

export async function ticketIdsOf(db: DbOrTx, docIds: readonly number[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  if (docIds.length === 0) return out;
  const rows = await ticketIdsByDocs(docIds.length).all(db, { docIds: [...docIds] });
  for (const r of rows) out.set(Number(r.doc_id), r.ticket_id);
  return out;
}
