import { type Kysely, PostgresAdapter, sql } from 'kysely';

/**
 * Ticket search (docs/search.md). `search_documents` is the source of truth for vectors: one row
 * per ticket with its brand, its int8 vector and a change sequence number that in-process vector
 * indexes follow. The keyword index is dialect specific: an FTS5 table on SQLite, a tsvector
 * column with a GIN index on PostgreSQL.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema
    .createTable('search_documents')
    .addColumn('doc_id', postgres ? 'serial' : 'integer', (c) => c.primaryKey())
    .addColumn('ticket_id', 'text', (c) => c.notNull().unique().references('tickets.id'))
    .addColumn('brand_id', 'text', (c) => c.notNull())
    .addColumn('embedder_id', 'text')
    .addColumn('vector', postgres ? 'bytea' : 'blob')
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('indexed_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('search_documents_seq').on('search_documents').column('seq').execute();
  await db.schema.createIndex('search_documents_brand').on('search_documents').columns(['brand_id', 'doc_id']).execute();

  // One row: the change counter (its row lock orders index writes by commit on PostgreSQL) and
  // the fitted common components of the built-in embedder.
  await db.schema
    .createTable('search_state')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('components', postgres ? 'bytea' : 'blob')
    .addColumn('components_id', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.insertInto('search_state').values({ id: 1, seq: 0, components: null, components_id: null, updated_at: new Date().toISOString() }).execute();

  // Tickets waiting for a vector from a remote embeddings endpoint (never called inside a transaction).
  await db.schema
    .createTable('search_embed_queue')
    .addColumn('ticket_id', 'text', (c) => c.primaryKey())
    .addColumn('queued_at', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();

  if (postgres) {
    await db.schema
      .createTable('search_keyword')
      .addColumn('doc_id', 'integer', (c) => c.primaryKey())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('meta', 'text', (c) => c.notNull())
      .addColumn('tsv', sql`tsvector`, (c) => c.notNull())
      .execute();
    await sql`create index search_keyword_tsv on search_keyword using gin (tsv)`.execute(db);
  } else {
    // Text is analysed (stemmed, stopwords removed) before it gets here, hence no porter tokenizer.
    await sql`create virtual table search_fts using fts5(subject, body, meta, tokenize = 'unicode61 remove_diacritics 2')`.execute(db);
    await sql`create virtual table search_fts_vocab using fts5vocab(search_fts, 'row')`.execute(db);
  }
}

export async function down(): Promise<void> {
  throw new Error('NexusCore migrations are forward-only');
}
