/**
 * Writing the search tables: a ticket's keyword entry and vector inside the transaction that
 * changes the ticket (so a change is searchable as soon as it commits), whole reindexes in
 * batches, and the fits of the built-in embedder's common components. With a remote embeddings
 * endpoint the vector is not computed here but queued (embedding-queue.ts): no HTTP call may run
 * inside a transaction.
 */
import type { Db, DbOrTx } from '../db/schema.js';
import { type Clock, toTimestamp } from '../shared/clock.js';
import type { TicketIndexer } from '../tickets/service.js';
import { componentToBuffer } from './embedding/embedder.js';
import { WinkGloveEmbedder, fingerprint } from './embedding/wink-glove.js';
import { type EmbedderProvider, fitDocuments, isLegacyFitId } from './embedder-provider.js';
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
    const { seq } = await store.nextSeq(trx);
    const at = toTimestamp(clock.now());
    const upserts = await documentsOf(trx, texts, at);
    const docIds = await store.upsertDocuments(trx, upserts, seq, at, { keepVector: remote });
    await keyword.upsert(
      trx,
      texts.map((t) => ({ docId: docIds.get(t.ticketId)!, fields: store.keywordFieldsOf(t) })),
    );
    return texts.length;
  }

  /** Indexes a ticket just created in `trx` from its text as written: its document and keyword entry are new. */
  async function indexNewTicket(trx: DbOrTx, text: store.TicketText): Promise<void> {
    const { seq } = await store.nextSeq(trx);
    const at = toTimestamp(clock.now());
    const [doc] = await documentsOf(trx, [text], at);
    const docId = await store.insertNewDocument(trx, doc!, seq, at);
    await keyword.upsert(trx, [{ docId, fields: store.keywordFieldsOf(text) }], { fresh: true });
  }

  /** The document rows of these texts: with their vector, or queued for the remote endpoint. */
  async function documentsOf(trx: DbOrTx, texts: store.TicketText[], at: string): Promise<store.DocumentUpsert[]> {
    let upserts: store.DocumentUpsert[];
    if (remote) {
      upserts = texts.map((t) => ({ ticketId: t.ticketId, brandId: t.brandId, embedderId: null, vector: null, opensWithDescription: t.opensWithDescription }));
      await store.queueForEmbedding(
        trx,
        texts.map((t) => t.ticketId),
        at,
      );
    } else {
      // Stored raw (no component removed): the fit is applied as the vectors load, so a refit
      // never re-embeds a ticket and a ticket written before or after it reads the same.
      const embedder = (await embedderProvider.load()) as WinkGloveEmbedder;
      upserts = texts.map((t) => ({
        ticketId: t.ticketId,
        brandId: t.brandId,
        embedderId: embedder.rawId,
        vector: encodeVector(embedder.embedRawOne(store.semanticTextOf(t))),
        opensWithDescription: t.opensWithDescription,
      }));
    }
    return upserts;
  }

  /**
   * Fits the built-in embedder's common components on the general sample plus the newest
   * `fitSample` tickets and stores them as the current fit (`corpus-<documents>-<fingerprint>`).
   * No vector is rewritten: each process's index loads the new fit in the background and switches
   * to it once complete.
   */
  async function refitComponents(): Promise<void> {
    const embedder = await embedderProvider.load();
    if (!(embedder instanceof WinkGloveEmbedder)) return;
    const documents = await store.countDocuments(db);
    const ids = await store.newestTicketIds(db, SEARCH_TUNING.fitSample);
    const texts = await store.loadTicketTexts(db, ids);
    const raw = await embedder.embedRaw(texts.map(store.semanticTextOf));
    const components = embedder.fitGeneral(raw);
    const fitId = `corpus-${documents}-${fingerprint(components)}`;
    await store.writeComponents(db, componentToBuffer(components), fitId, toTimestamp(clock.now()));
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
    ticketChanged: async (trx, ticketId, what = 'text') => {
      // Same text: a new seq makes the followers re-read the document's filter fields.
      if (what === 'filters' && (await store.touchDocument(trx, ticketId, (await store.nextSeq(trx)).seq, toTimestamp(clock.now())))) return;
      await indexTickets(trx, [ticketId]);
    },
    ticketCreated: (trx, ticket) => indexNewTicket(trx, store.newTicketText(ticket)),
    ticketsChanged: indexTickets,
  };

  return {
    indexer,
    reindex,

    /** After text was redacted and re-indexed (a customer's erasure): nothing of the old text stays in the keyword index's storage. */
    async purgeReplacedText(): Promise<void> {
      await keyword.purgeReplaced?.(db);
    },

    /**
     * Refines the built-in embedder's fit as the corpus grows: a new corpus fit once the corpus
     * has `refitFirstDocuments` documents and again each time it has grown `refitGrowth` times
     * since the last fit (a few hundred ms of work; no vector is rewritten). A database whose
     * vectors were stored fitted by an older version is reindexed once (vectors stored raw).
     * Returns the documents of the new fit (or the tickets reindexed), 0 when nothing was due.
     */
    async refineFit(): Promise<number> {
      const state = await store.readState(db);
      if (isLegacyFitId(state.componentsId)) return (await reindex({ refit: true })).indexed;
      const last = fitDocuments(state.componentsId);
      const due = Math.max(SEARCH_TUNING.refitFirstDocuments, last * SEARCH_TUNING.refitGrowth, last + 1);
      // This runs every few seconds: the exact count scans the corpus (~100 ms of blocked event
      // loop at a million tickets), so it waits until the upper bound says a refit may be due.
      if ((await store.maxDocId(db)) < due) return 0;
      const documents = await store.countDocuments(db);
      if (documents < due) return 0;
      await refitComponents();
      return documents;
    },
  };
}

export type SearchIndexing = ReturnType<typeof createIndexing>;
