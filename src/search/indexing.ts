/**
 * Writing the search tables: a ticket's keyword entry and vector inside the transaction that
 * changes the ticket (so a change is searchable as soon as it commits), whole reindexes in
 * batches, and the fit of the built-in embedder's common components. With a remote embeddings
 * endpoint the vector is not computed here but queued (embedding-queue.ts): no HTTP call may run
 * inside a transaction.
 */
import type { Db, DbOrTx } from '../db/schema.js';
import { type Clock, toTimestamp } from '../shared/clock.js';
import type { TicketIndexer } from '../tickets/service.js';
import { componentToBuffer } from './embedding/embedder.js';
import { WinkGloveEmbedder } from './embedding/wink-glove.js';
import type { EmbedderProvider } from './embedder-provider.js';
import type { KeywordIndex } from './keyword-index.js';
import * as store from './store.js';
import { SEARCH_TUNING } from './tuning.js';
import { encodeVector } from './vector-index.js';

export interface IndexingDeps {
  db: Db;
  clock: Clock;
  keyword: KeywordIndex;
  embedderProvider: EmbedderProvider;
  /** Vectors come from a remote endpoint, through the queue. */
  remote: boolean;
}

export interface ReindexOptions {
  brandId?: string | undefined;
  batchSize?: number;
  refit?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export function createIndexing(deps: IndexingDeps) {
  const { db, clock, keyword, embedderProvider, remote } = deps;

  /** Indexes these tickets inside the caller's transaction; returns how many exist (missing ids are skipped). */
  async function indexTickets(trx: DbOrTx, ticketIds: readonly string[]): Promise<number> {
    const texts = await store.loadTicketTexts(trx, ticketIds);
    if (texts.length === 0) return 0;
    const { seq, componentsId } = await store.nextSeq(trx);
    const at = toTimestamp(clock.now());
    let upserts: store.DocumentUpsert[];
    if (remote) {
      upserts = texts.map((t) => ({ ticketId: t.ticketId, brandId: t.brandId, embedderId: null, vector: null }));
      await store.queueForEmbedding(
        trx,
        texts.map((t) => t.ticketId),
        at,
      );
    } else {
      const embedder = (await embedderProvider.withComponents(trx, componentsId)) as WinkGloveEmbedder;
      upserts = texts.map((t) => ({
        ticketId: t.ticketId,
        brandId: t.brandId,
        embedderId: embedder.id,
        vector: encodeVector(embedder.embedOne(store.semanticTextOf(t))),
      }));
    }
    const docIds = await store.upsertDocuments(trx, upserts, seq, at, { keepVector: remote });
    await keyword.upsert(
      trx,
      texts.map((t) => ({ docId: docIds.get(t.ticketId)!, fields: store.keywordFieldsOf(t) })),
    );
    return texts.length;
  }

  /** Fits SIF common components on a sample of tickets and stores them (built-in embedder). */
  async function refitComponents(): Promise<void> {
    const embedder = await embedderProvider.load();
    if (!(embedder instanceof WinkGloveEmbedder)) return;
    const ids = await store.newestTicketIds(db, SEARCH_TUNING.fitSample);
    const texts = await store.loadTicketTexts(db, ids);
    const raw = await embedder.embedRaw(texts.map(store.semanticTextOf));
    const usable = raw.filter((v) => v.some((x) => x !== 0));
    if (usable.length === 0) return;
    const components = embedder.fitCommonComponent(usable);
    embedderProvider.installed(embedder.id);
    await store.writeComponents(db, componentToBuffer(components), embedder.id, toTimestamp(clock.now()));
  }

  /**
   * Rebuilds the keyword and vector entries of every ticket (of one brand when given), in
   * batches of `batchSize` per transaction. Without a brand, the built-in embedder's common
   * components are refitted first on a sample of tickets. Reports progress as (done, total).
   */
  async function reindex(options: ReindexOptions = {}): Promise<{ indexed: number; refitted: boolean }> {
    const batchSize = options.batchSize ?? 500;
    const total = await store.countTickets(db, options.brandId);
    let refitted = false;
    if (!remote && (options.refit ?? options.brandId === undefined) && total > 0) {
      await refitComponents();
      refitted = true;
    }
    let done = 0;
    let afterId = '';
    options.onProgress?.(0, total);
    for (;;) {
      const ids = await store.ticketIdsAfter(db, afterId, batchSize, options.brandId);
      if (ids.length === 0) break;
      await db.transaction().execute((trx) => indexTickets(trx, ids));
      afterId = ids[ids.length - 1]!;
      done += ids.length;
      options.onProgress?.(done, total);
    }
    return { indexed: done, refitted };
  }

  const indexer: TicketIndexer & { ticketsChanged(trx: DbOrTx, ticketIds: readonly string[]): Promise<number> } = {
    ticketChanged: async (trx, ticketId) => void (await indexTickets(trx, [ticketId])),
    ticketsChanged: indexTickets,
  };

  return {
    indexer,
    reindex,

    /**
     * Fits the built-in embedder's common components (a full reindex) once the corpus reaches
     * `autoFitDocuments` and none are fitted yet; returns the tickets reindexed.
     */
    async fitComponentsOnceLarge(): Promise<number> {
      const state = await store.readState(db);
      if (state.componentsId !== null) return 0;
      if ((await store.countDocuments(db)) < SEARCH_TUNING.autoFitDocuments) return 0;
      const { indexed } = await reindex({ refit: true });
      return indexed;
    },
  };
}

export type SearchIndexing = ReturnType<typeof createIndexing>;
