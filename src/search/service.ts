/**
 * Hybrid ticket search: BM25 keyword side + embedding side, fused into one score in [0, 1], with
 * one round of pseudo-relevance feedback (the recipe measured in docs/search.md).
 *
 * Indexing runs inside each ticket-change transaction (`indexer.ticketChanged`), so a change is
 * searchable as soon as it commits. With a remote embeddings endpoint the keyword side is still
 * written in the transaction and the vector follows from a queue (see `embedPending`), because no
 * HTTP call may run inside a transaction.
 */
import type { Static } from 'typebox';
import type { Db, DbOrTx } from '../db/schema.js';
import type { Dialect } from '../db/open.js';
import { type Principal, canSeeBrand } from '../auth/scopes.js';
import { type CursorCodec, cursorInteger } from '../http/cursor.js';
import type { Page } from '../http/pagination.js';
import { AppError, validationError } from '../http/problem.js';
import { type Clock, parseInstant, toTimestamp } from '../shared/clock.js';
import { type TicketView, checkTags, normalizeEmail, toTicketView } from '../tickets/model.js';
import type { TicketIndexer } from '../tickets/service.js';
import { type Embedder, componentFromBuffer, componentToBuffer } from './embedding/embedder.js';
import { rocchioExpand } from './embedding/feedback.js';
import { EmbeddingEndpointError } from './embedding/openai-compatible.js';
import { WinkGloveEmbedder } from './embedding/wink-glove.js';
import { type EmbedderSettings, createEmbedder } from './embedder-provider.js';
import type { KeywordIndex } from './keyword-index.js';
import { InvertedIndex } from './keyword-memory.js';
import { postgresKeywordIndex } from './keyword-postgres.js';
import { sqliteKeywordIndex } from './keyword-sqlite.js';
import type { SearchBody } from './schemas.js';
import * as store from './store.js';
import { type FusedHit, HYBRID_RECIPE, type ScoredHit, fuseResults } from './text/fusion.js';
import { highlightsOf, type Highlight } from './highlight.js';
import { VectorIndex, encodeVector } from './vector-index.js';

/** The body of POST /v1/tickets/search; callers other than the route may leave out `limit` (20). */
export type SearchInput = Omit<Static<typeof SearchBody>, 'limit'> & { limit?: number | undefined };

export type SearchMode = NonNullable<SearchInput['mode']>;

export interface SearchResult {
  ticket: TicketView;
  score: number;
  highlights?: Highlight[];
  match: { keyword: number | null; semantic: number | null };
}

export interface SearchServiceDeps {
  db: Db;
  dialect: Dialect;
  clock: Clock;
  embedder?: EmbedderSettings | undefined;
  /** Signs and checks pagination cursors. */
  cursors: CursorCodec;
}

/** Feedback, filters and pagination knobs; the defaults are the measured recipe. */
export const SEARCH_TUNING = {
  ...HYBRID_RECIPE,
  /** Deepest position pagination reaches (each side fetches up to this many). */
  maxDepth: 1000,
  /** With filters beyond brand: scan exactly among at most this many SQL candidates, else over-fetch. */
  maxCandidates: 50_000,
  overFetch: 10,
  /** Corpus size (documents in the process indexes) above which filtered searches over-fetch first. */
  overFetchFirstFrom: 250_000,
  /** Corpus size at which the built-in embedder's common components are fitted automatically. */
  autoFitDocuments: 1000,
  fitSample: 5000,
  /** Feedback terms whose document frequency is looked up (the likeliest by rank-weighted occurrence). */
  feedbackCandidates: 30,
  /** First-pass semantic hits kept as the shortlist the feedback pass rescores. */
  semanticShortlist: 1000,
  commonTermDocuments: 5000,
  commonTermShare: 0.05,
  /**
   * Semantic relevance floor of the built-in embedder: a hit without a match of the query's own
   * words is returned only when the cosine of its vector with the query's (before feedback) is
   * at least this. Measured on Banking77 (bench/search-quality/cosine-floor.ts, docs/search.md):
   * `fitted` with the 2 common components removed, `plain` for plain SIF (fewer than 1,000
   * tickets). Remote embedders have no floor (their cosine scale is the model's).
   */
  semanticFloor: { fitted: 0.45, plain: 0.7 } as { fitted: number; plain: number },
  /**
   * Fixed cosine bounds of the semantic component of the built-in embedder: (cos - low) / (high -
   * low), clamped to [0, 1]; null: min-max over the query's semantic hits. Measured in
   * docs/search.md: fitted, low = the floor and high = 1 (identical meaning).
   */
  semanticBounds: { fitted: { low: 0.45, high: 1 }, plain: null } as { fitted: { low: number; high: number } | null; plain: { low: number; high: number } | null },
};

const noResults = (): Page<SearchResult> => ({ data: [], next_cursor: null });

export function createSearchService(deps: SearchServiceDeps) {
  const { db, clock, cursors } = deps;
  const keyword: KeywordIndex = deps.dialect === 'postgres' ? postgresKeywordIndex : sqliteKeywordIndex;
  const remote = deps.embedder?.remote !== undefined;

  let embedderPromise: Promise<Embedder> | undefined;
  /** components_id installed in the built-in embedder; undefined until first read. */
  let installedComponentsId: string | null | undefined;
  const loadEmbedder = (): Promise<Embedder> => {
    embedderPromise ??= createEmbedder(deps.embedder ?? {});
    embedderPromise.catch(() => (embedderPromise = undefined));
    return embedderPromise;
  };

  /** The embedder, with the common components `componentsId` names installed (built-in only). */
  async function embedderFor(dbx: DbOrTx, componentsId: string | null): Promise<Embedder> {
    const embedder = await loadEmbedder();
    if (embedder instanceof WinkGloveEmbedder && installedComponentsId !== componentsId) {
      const stored = componentsId === null ? null : await store.readComponents(dbx);
      embedder.setCommonComponent(stored?.components ? componentFromBuffer(stored.components) : null);
      installedComponentsId = stored?.componentsId ?? null;
    }
    return embedder;
  }

  /** Remote queue: after a failure of the endpoint as a whole, no request before `until` (ms since the epoch). */
  const drainBackoff = { failures: 0, until: 0 };

  // ---- in-process vector index, following search_documents by seq ----
  let index: VectorIndex | null = null;
  let indexEmbedderId = '';
  let watermark = { seq: -1, docId: 0 };
  let syncing: Promise<void> | null = null;
  /** Full loads of each in-process index (from empty), for the warm-up test and diagnostics. */
  const loads = { keyword: 0, vectors: 0 };
  /**
   * A bulk load lets the event loop run every `LOAD_SLICE` rows and between reads (better-sqlite3
   * is synchronous and the postings are built in JS): other requests, /healthz included, wait at
   * most one slice (tens of ms) while the indexes load, instead of the whole load.
   */
  const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

  async function syncIndex(embedderId: string, seq: number): Promise<VectorIndex | null> {
    if (embedderId !== indexEmbedderId) {
      index = null;
      indexEmbedderId = embedderId;
      watermark = { seq: -1, docId: 0 };
    }
    // A load in flight is always awaited: a search never reads a half-loaded index.
    while (syncing || watermark.seq < seq) {
      if (!syncing) {
        syncing = (async () => {
          if (watermark.seq < 0) loads.vectors++;
          for (;;) {
            const rows = await store.vectorsSince(db, embedderId, watermark.seq, watermark.docId, LOAD_BATCH);
            if (indexEmbedderId !== embedderId) return;
            for (let i = 0; i < rows.length; i++) {
              const r = rows[i]!;
              index ??= new VectorIndex(r.vector.byteLength - 4);
              index.upsert(r.doc_id, r.brand_id, r.vector);
              watermark = { seq: r.seq, docId: r.doc_id };
              if (i % LOAD_SLICE === LOAD_SLICE - 1) await yieldToEventLoop();
            }
            if (rows.length < LOAD_BATCH) break;
            await yieldToEventLoop();
          }
          // Nothing newer exists for this embedder up to `seq`: mark it seen.
          if (watermark.seq < seq) watermark = { seq, docId: 0 };
        })().finally(() => (syncing = null));
      }
      await syncing;
    }
    return index;
  }

  // ---- in-process keyword index, following the keyword table by seq ----
  let words: InvertedIndex | null = null;
  let wordsWatermark = { seq: -1, docId: 0 };
  let wordsSyncing: Promise<void> | null = null;

  async function syncKeyword(seq: number): Promise<InvertedIndex> {
    const idx = (words ??= new InvertedIndex());
    while (wordsSyncing || wordsWatermark.seq < seq) {
      if (!wordsSyncing) {
        wordsSyncing = (async () => {
          if (wordsWatermark.seq < 0) loads.keyword++;
          let loaded = 0;
          for (;;) {
            const rows = await keyword.textsSince(db, wordsWatermark.seq, wordsWatermark.docId, LOAD_BATCH);
            loaded += rows.length;
            for (let i = 0; i < rows.length; i++) {
              const r = rows[i]!;
              if (r.fields) idx.upsert(r.doc_id, r.brand_id, r.fields);
              else idx.remove(r.doc_id);
              wordsWatermark = { seq: r.seq, docId: r.doc_id };
              if (i % LOAD_SLICE === LOAD_SLICE - 1) await yieldToEventLoop();
            }
            if (rows.length < LOAD_BATCH) break;
            await yieldToEventLoop();
          }
          // A bulk load (first search, large reindex) leaves growth slack in the postings: trim it.
          if (loaded >= 50_000) idx.compact();
          if (wordsWatermark.seq < seq) wordsWatermark = { seq, docId: 0 };
        })().finally(() => (wordsSyncing = null));
      }
      await wordsSyncing;
    }
    return idx;
  }

  // ---- indexing ----
  async function indexTickets(trx: DbOrTx, ticketIds: readonly string[]): Promise<number> {
    const texts = await store.loadTicketTexts(trx, ticketIds);
    if (texts.length === 0) return 0;
    const { seq, componentsId } = await store.nextSeq(trx);
    const at = toTimestamp(clock.now());
    let upserts: store.DocumentUpsert[];
    if (remote) {
      upserts = texts.map((t) => ({ ticketId: t.ticketId, brandId: t.brandId, embedderId: null, vector: null }));
      await store.queueForEmbedding(trx, texts.map((t) => t.ticketId), at);
    } else {
      const embedder = (await embedderFor(trx, componentsId)) as WinkGloveEmbedder;
      upserts = texts.map((t) => ({ ticketId: t.ticketId, brandId: t.brandId, embedderId: embedder.id, vector: encodeVector(embedder.embedOne(store.semanticTextOf(t))) }));
    }
    const docIds = await store.upsertDocuments(trx, upserts, seq, at, { keepVector: remote });
    await keyword.upsert(trx, texts.map((t) => ({ docId: docIds.get(t.ticketId)!, fields: store.keywordFieldsOf(t) })));
    return texts.length;
  }

  const indexer: TicketIndexer & { ticketsChanged(trx: DbOrTx, ticketIds: readonly string[]): Promise<number> } = {
    ticketChanged: async (trx, ticketId) => void (await indexTickets(trx, [ticketId])),
    ticketsChanged: indexTickets,
  };

  // ---- query ----
  function resolveFilters(principal: Principal, input: SearchInput): store.SearchFilters {
    const f = input.filters ?? {};
    let brandIds = principal.brandIds;
    if (f.brand_id !== undefined) brandIds = canSeeBrand(principal, f.brand_id) ? [f.brand_id] : [];
    const instant = (name: string, text: string | undefined) => {
      if (text === undefined) return undefined;
      const at = parseInstant(text);
      if (!at) throw validationError(`/filters/${name}`, 'must be a date or an RFC 3339 date-time');
      return toTimestamp(at);
    };
    return {
      brandIds,
      status: f.status,
      priority: f.priority,
      assigned_to: f.assigned_to ? normalizeEmail(f.assigned_to) : undefined,
      tags: f.tags?.length ? checkTags(f.tags, '/filters/tags') : undefined,
      created_after: instant('created_after', f.created_after),
      created_before: instant('created_before', f.created_before),
    };
  }

  interface Ranking {
    fused: FusedHit<number>[];
    keyword: ScoredHit<number>[];
    semantic: ScoredHit<number>[];
  }

  /** Runs the recipe; `depth` hits per side. Exposed for the quality bench through `rank`. */
  async function rank(queryText: string, filters: store.SearchFilters, mode: SearchMode, depth: number): Promise<Ranking> {
    if (filters.brandIds !== null && filters.brandIds.length === 0) return { fused: [], keyword: [], semantic: [] };
    const terms = mode === 'semantic' ? [] : store.queryTerms(queryText);
    const state = await store.readState(db);
    // Both in-process indexes catch up with the table (each one indexed query when idle); on
    // PostgreSQL their reads overlap.
    const [words, semanticState] = await Promise.all([
      terms.length ? syncKeyword(state.seq) : null,
      (async (): Promise<{ qvec: Float32Array; vectors: VectorIndex | null; floor: number; builtIn: boolean } | null> => {
        if (mode === 'keyword') return null;
        const embedder = await embedderFor(db, state.componentsId);
        let v: Float32Array | undefined;
        try {
          [v] = await embedder.embed([queryText]);
        } catch (err) {
          // A remote endpoint that fails (down, 5xx, timeout) must not fail the search: hybrid
          // degrades to the keyword side; with nothing else to rank by, a 503.
          if (!(err instanceof EmbeddingEndpointError)) throw err;
          if (mode === 'semantic' || terms.length === 0) throw new AppError('unavailable', 'Semantic search is unavailable: the embeddings endpoint did not answer; retry later or search with mode "keyword"', { headers: { 'retry-after': '5' } });
          return null;
        }
        if (!v || !v.some((x) => x !== 0)) return null;
        const builtIn = embedder instanceof WinkGloveEmbedder;
        const floor = !builtIn ? -Infinity : installedComponentsId ? SEARCH_TUNING.semanticFloor.fitted : SEARCH_TUNING.semanticFloor.plain;
        return { qvec: v, vectors: await syncIndex(embedder.id, state.seq), floor, builtIn };
      })(),
    ]);
    const qvec = semanticState?.qvec ?? null;
    const vectors = semanticState?.vectors ?? null;
    const floor = semanticState?.floor ?? -Infinity;
    const bounds = !semanticState?.builtIn ? null : installedComponentsId ? SEARCH_TUNING.semanticBounds.fitted : SEARCH_TUNING.semanticBounds.plain;
    const fusion = { ...HYBRID_RECIPE.fusion, semanticBounds: bounds ?? undefined };
    if (terms.length === 0 && qvec === null) {
      throw validationError('/query', 'contains no searchable words');
    }
    const { where, joinTickets } = store.filterCondition(filters);
    const extraFilters = joinTickets;

    // Filters beyond brand. Listing the SQL candidates (up to 50,000) costs about one index probe
    // per matching ticket, so on a corpus of up to `overFetchFirstFrom` documents the candidate set
    // restricts both sides exactly when it is small enough. On bigger corpora (and when there are
    // more candidates) each side over-fetches 10x from its index and filters the hits in SQL (one
    // query over a list of doc ids): the filtered top of an over-fetched list is exact when at
    // least k hits survive or the list held every match. If not, the filter is selective: the
    // candidate set is listed after all, and past 50,000 the keyword side falls back to SQL
    // ranking while the semantic side keeps the survivors.
    const corpus = Math.max(words?.size ?? 0, vectors?.size ?? 0);
    const candidatesFirst = corpus <= SEARCH_TUNING.overFetchFirstFrom;
    let candidates: Set<number> | null | undefined;
    const candidateSet = async (): Promise<Set<number> | null> => {
      if (candidates === undefined) {
        const ids = await store.filteredDocIds(db, filters, SEARCH_TUNING.maxCandidates + 1);
        candidates = ids.length <= SEARCH_TUNING.maxCandidates ? new Set(ids) : null;
      }
      return candidates;
    };
    const passing = async (hits: ScoredHit<number>[]): Promise<ScoredHit<number>[]> => {
      const ok = new Set(await store.filteredDocIds(db, filters, hits.length, hits.map((h) => h.id)));
      return hits.filter((h) => ok.has(h.id));
    };
    const semantic = async (q: Float32Array, k: number): Promise<ScoredHit<number>[]> => {
      if (!vectors) return [];
      if (!extraFilters) return vectors.search(q, filters.brandIds, k);
      if (candidatesFirst) {
        const among = await candidateSet();
        if (among) return vectors.searchAmong(q, among, k);
      }
      const over = vectors.search(q, filters.brandIds, k * SEARCH_TUNING.overFetch);
      const kept = await passing(over);
      if (kept.length >= k || over.length < k * SEARCH_TUNING.overFetch) return kept.slice(0, k);
      const among = await candidateSet();
      return among ? vectors.searchAmong(q, among, k) : kept;
    };
    const keywordSide = async (t: readonly string[], k: number): Promise<ScoredHit<number>[]> => {
      if (!words || t.length === 0) return [];
      if (!extraFilters) return words.search(t, { brandIds: filters.brandIds }, k);
      if (candidatesFirst) {
        const among = await candidateSet();
        if (among) return words.search(t, { brandIds: filters.brandIds, docIds: among }, k);
      }
      const over = words.search(t, { brandIds: filters.brandIds }, k * SEARCH_TUNING.overFetch);
      const kept = await passing(over);
      if (kept.length >= k || over.length < k * SEARCH_TUNING.overFetch) return kept.slice(0, k);
      const among = await candidateSet();
      if (among) return words.search(t, { brandIds: filters.brandIds, docIds: among }, k);
      return keyword.search(db, { terms: t, where, joinTickets, limit: k });
    };

    const kwTerms = terms.length > 1 && words ? pruneCommonTerms(words, terms) : terms;
    const kw1 = await keywordSide(kwTerms, depth);
    const semWide = qvec ? await semantic(qvec, Math.max(depth, SEARCH_TUNING.semanticShortlist)) : [];
    const sem1 = semWide.slice(0, depth);
    if (mode === 'keyword') return { fused: fuseResults(kw1, [], { ...HYBRID_RECIPE.fusion, keywordWeight: 1 }), keyword: kw1, semantic: [] };
    if (mode === 'semantic') {
      const above = sem1.filter((h) => h.score >= floor);
      return { fused: relevantOnly(fuseResults([], above, { ...fusion, keywordWeight: 0 })), keyword: [], semantic: above };
    }

    // The relevance test of a hit: a match of the query's own words (first keyword pass), or a
    // query cosine (before feedback) at or above the floor. Feedback only reorders.
    const matchedWords = new Set(kw1.map((h) => h.id));
    const queryCosine = new Map(semWide.map((h) => [h.id, h.score]));
    const relevant = (id: number): boolean => {
      if (matchedWords.has(id)) return true;
      if (!qvec || !vectors) return false;
      let cos = queryCosine.get(id);
      if (cos === undefined) {
        const v = vectors.vectorOf(id);
        cos = v ? dot(qvec, v) : -Infinity;
      }
      return cos >= floor;
    };
    const final = (fused: FusedHit<number>[]) => relevantOnly(fused.filter((h) => relevant(h.id)));

    const first = fuseResults(kw1, sem1, fusion);
    const feedbackIds = first.slice(0, HYBRID_RECIPE.feedbackDocuments).map((h) => h.id);
    if (feedbackIds.length === 0) return { fused: final(first), keyword: kw1, semantic: sem1 };

    let kw2 = kw1;
    // Feedback terms only refine a keyword match; with none, they would only add drift.
    if (kw1.length && words) {
      const extra = await feedbackTerms(words, terms, feedbackIds);
      // bm25 sums over the terms of a query, so the expanded query (original terms counted
      // `originalRepeat` times, plus the feedback terms) scores repeat * first pass + feedback
      // pass: only the short feedback query runs again (exact within both passes' depth).
      const fb = extra.length ? await keywordSide(extra, depth) : [];
      const scores = new Map<number, number>();
      for (const h of kw1) scores.set(h.id, HYBRID_RECIPE.originalRepeat * h.score);
      for (const h of fb) scores.set(h.id, (scores.get(h.id) ?? 0) + h.score);
      kw2 = [...scores].map(([id, score]) => ({ id, score })).sort((a, b) => b.score - a.score || a.id - b.id).slice(0, depth);
    }
    let sem2 = sem1;
    if (qvec && vectors) {
      const fb = feedbackIds.map((id) => vectors.vectorOf(id)).filter((v): v is Float32Array => v !== undefined);
      // The expanded vector stays close to the query: rescore the first pass's wider shortlist
      // and the keyword hits instead of scanning every vector again.
      const shortlist = new Set<number>(semWide.map((h) => h.id));
      for (const h of kw2) shortlist.add(h.id);
      const expanded = rocchioExpand(qvec, fb, HYBRID_RECIPE.semanticBeta);
      // Every shortlisted id already passed the filters (both sides applied them).
      sem2 = vectors.searchAmong(expanded, shortlist, depth);
    }
    return { fused: final(fuseResults(kw2, sem2, fusion)), keyword: kw2, semantic: sem2 };
  }

  /**
   * A term found in a large share of a big corpus costs much (its whole postings list is scored)
   * and separates little. Terms in more than max(5,000, 5 % of the corpus)
   * documents are dropped when rarer ones remain (below 5,000 documents nothing is dropped).
   */
  function pruneCommonTerms(words: InvertedIndex, terms: string[]): string[] {
    const { total, df } = words.documentFrequencies(terms);
    const limit = Math.max(SEARCH_TUNING.commonTermDocuments, total * SEARCH_TUNING.commonTermShare);
    const kept = terms.filter((t) => (df.get(t) ?? 0) <= limit);
    return kept.length ? kept : terms;
  }

  /** RM3-lite: the most distinctive terms of the feedback documents, not already in the query. */
  async function feedbackTerms(words: InvertedIndex, queryTerms: readonly string[], feedbackIds: readonly number[]): Promise<string[]> {
    const termsByDoc = await keyword.termsOf(db, feedbackIds);
    const query = new Set(queryTerms);
    const prior = new Map<string, number>();
    feedbackIds.forEach((id, rank) => {
      for (const term of new Set(termsByDoc.get(id) ?? [])) {
        if (query.has(term) || term.length > 64) continue;
        prior.set(term, (prior.get(term) ?? 0) + 1 / (rank + 1));
      }
    });
    // Long conversations have thousands of terms; look up frequencies of the likeliest only.
    const candidates = [...prior.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, SEARCH_TUNING.feedbackCandidates).map(([t]) => t);
    const { total, df } = words.documentFrequencies(candidates);
    const n = Math.max(1, total);
    return candidates
      .map((t) => [t, prior.get(t)! * Math.log(1 + n / Math.max(1, df.get(t) ?? 0))] as const)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, HYBRID_RECIPE.keywordTerms)
      .map(([t]) => t);
  }

  return {
    indexer,

    /**
     * Searches the tickets the principal may see. Results are sorted by `score` (in [0, 1]);
     * `next_cursor` continues the same ranking (an offset into it: a ticket changed between two
     * page requests may move by a position). Throws 422 when the query has no searchable word,
     * 400 for a cursor of another query.
     */
    async search(principal: Principal, input: SearchInput): Promise<Page<SearchResult>> {
      const queryText = input.query;
      if (!queryText.trim()) throw validationError('/query', 'must not be blank');
      const mode = input.mode ?? 'hybrid';
      const limit = input.limit ?? 20;
      const filters = resolveFilters(principal, input);
      const fingerprint = { q: queryText, f: input.filters ?? {}, m: mode };
      let offset = 0;
      if (input.after) {
        [offset] = await cursors.decode('search', fingerprint, input.after, [cursorInteger(1, SEARCH_TUNING.maxDepth)]);
      }
      if (offset >= SEARCH_TUNING.maxDepth) return noResults();
      const depth = Math.min(SEARCH_TUNING.maxDepth, Math.max(HYBRID_RECIPE.depth, offset + limit + 1));
      const { fused } = await rank(queryText, filters, mode, depth);
      const page = fused.slice(offset, offset + limit);
      const ticketIds = await store.ticketIdsOf(db, page.map((h) => h.id));
      const rows = await store.ticketRowsByIds(db, [...ticketIds.values()]);
      const byId = new Map(rows.map((r) => [r.id, r]));
      const terms = mode === 'semantic' ? [] : store.queryTerms(queryText);
      const highlights = terms.length ? await highlightsOf(db, page.filter((h) => h.keyword).map((h) => ticketIds.get(h.id)!), terms) : new Map<string, Highlight[]>();
      const data: SearchResult[] = [];
      for (const hit of page) {
        const row = byId.get(ticketIds.get(hit.id) ?? '');
        // The filters already scope by brand; this re-check makes isolation independent of them.
        if (!row || !canSeeBrand(principal, row.brand_id)) continue;
        const hl = highlights.get(row.id);
        data.push({
          ticket: toTicketView(row),
          score: round(hit.score),
          ...(hl && hl.length ? { highlights: hl } : {}),
          match: { keyword: hit.keyword ? round(hit.keyword.normalized) : null, semantic: hit.semantic ? round(hit.semantic.normalized) : null },
        });
      }
      const more = fused.length > offset + limit && offset + limit < SEARCH_TUNING.maxDepth;
      return { data, next_cursor: more ? await cursors.encode('search', fingerprint, [offset + limit]) : null };
    },

    /**
     * For the speed bench: overlap of the semantic first pass (top `k` of the brand) with an
     * exact scan, and the time of each; null when the query embeds to nothing.
     */
    async semanticRecall(queryText: string, brandId: string, k = SEARCH_TUNING.semanticShortlist): Promise<{ recall: number; ms: number; exactMs: number } | null> {
      const state = await store.readState(db);
      const embedder = await embedderFor(db, state.componentsId);
      const [v] = await embedder.embed([queryText]);
      if (!v || !v.some((x) => x !== 0)) return null;
      const vectors = await syncIndex(embedder.id, state.seq);
      if (!vectors) return null;
      let t = performance.now();
      const got = vectors.search(v, [brandId], k);
      const ms = performance.now() - t;
      t = performance.now();
      const exact = vectors.search(v, [brandId], k, { exact: true });
      const exactMs = performance.now() - t;
      const ids = new Set(got.map((h) => h.id));
      return { recall: exact.length ? exact.filter((h) => ids.has(h.id)).length / exact.length : 1, ms, exactMs };
    },

    /** Ranked doc ids per side and fused, for benchmarks (no principal: every brand). */
    async rankIds(queryText: string, mode: SearchMode, depth = 10): Promise<number[]> {
      const { fused } = await rank(queryText, { brandIds: null }, mode, Math.max(depth, HYBRID_RECIPE.depth));
      return fused.slice(0, depth).map((h) => h.id);
    },

    /**
     * Rebuilds the keyword and vector entries of every ticket (of one brand when given), in
     * batches of `batchSize` per transaction. Without a brand, the built-in embedder's common
     * components are refitted first on a sample of tickets. Reports progress as (done, total).
     */
    async reindex(options: { brandId?: string | undefined; batchSize?: number; refit?: boolean; onProgress?: (done: number, total: number) => void } = {}): Promise<{ indexed: number; refitted: boolean }> {
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
    },

    /** Background upkeep: fits the built-in embedder's components once the corpus is large enough. */
    async maintain(): Promise<number> {
      if (remote) {
        let total = 0;
        for (let n = -1; n !== 0 && total < 10_000; total += n) n = await embedPending();
        return total;
      }
      const state = await store.readState(db);
      if (state.componentsId !== null) return 0;
      if ((await store.countDocuments(db)) < SEARCH_TUNING.autoFitDocuments) return 0;
      const { indexed } = await this.reindex({ refit: true });
      return indexed;
    },

    embedPending,

    /**
     * Loads both in-process indexes (and the built-in model) ahead of the first search; the
     * server starts it in the background once listening. Loads are shared: a search arriving
     * meanwhile waits for this same load, and a warm-up after a search only catches up. Returns
     * false, loading nothing, when no ticket is indexed yet.
     */
    async warmUp(): Promise<boolean> {
      if (!(await store.hasDocuments(db))) return false;
      const state = await store.readState(db);
      await Promise.all([
        syncKeyword(state.seq),
        (async () => {
          const embedder = await embedderFor(db, state.componentsId);
          await syncIndex(embedder.id, state.seq);
        })(),
      ]);
      return true;
    },

    /** How many times each in-process index was loaded from empty, and what they hold. */
    indexStats(): { keywordLoads: number; vectorLoads: number; keywordDocuments: number; vectors: number } {
      return { keywordLoads: loads.keyword, vectorLoads: loads.vectors, keywordDocuments: words?.size ?? 0, vectors: index?.size ?? 0 };
    },
  };

  /** Fits SIF common components on a sample of tickets and stores them (built-in embedder). */
  async function refitComponents(): Promise<void> {
    const embedder = await loadEmbedder();
    if (!(embedder instanceof WinkGloveEmbedder)) return;
    const ids = await store.newestTicketIds(db, SEARCH_TUNING.fitSample);
    const texts = await store.loadTicketTexts(db, ids);
    const raw = await embedder.embedRaw(texts.map(store.semanticTextOf));
    const usable = raw.filter((v) => v.some((x) => x !== 0));
    if (usable.length === 0) return;
    const components = embedder.fitCommonComponent(usable);
    installedComponentsId = embedder.id;
    await store.writeComponents(db, componentToBuffer(components), embedder.id, toTimestamp(clock.now()));
  }

  /**
   * Embeds up to `limit` queued tickets through the remote endpoint, outside any transaction;
   * returns how many got a vector. The queue is drained fewest attempts first, then oldest, so a
   * ticket that keeps failing never holds up newer ones. When the endpoint fails as a whole (network,
   * timeout, 401/403/404, 429, 5xx) the items stay queued, their attempts grow, the error is thrown
   * (the job logs it) and no request is sent for 1 s, 2 s, 4 s … up to 60 s after. When it rejects
   * a batch (400, 413, 422), the batch is retried one ticket at a time: a ticket rejected alone
   * `MAX_REJECTIONS` times leaves the queue (it keeps its previous vector, or none).
   */
  async function embedPending(limit = 64): Promise<number> {
    if (!remote) return 0;
    if (clock.now().getTime() < drainBackoff.until) return 0;
    const queued = await store.nextQueuedForEmbedding(db, limit);
    if (queued.length === 0) return 0;
    const texts = await store.loadTicketTexts(db, queued.map((q) => q.ticket_id));
    const embedder = await loadEmbedder();
    const input = (t: store.TicketText) => store.semanticTextOf(t).slice(0, REMOTE_MAX_CHARS);
    const failed = (ticketIds: readonly string[]) => store.countEmbeddingAttempt(db, ticketIds);
    const done: { text: store.TicketText; vector: Float32Array }[] = [];
    const rejected: string[] = [];
    try {
      const vectors = await embedder.embed(texts.map(input));
      texts.forEach((text, i) => done.push({ text, vector: vectors[i]! }));
    } catch (err) {
      if (!(err instanceof EmbeddingEndpointError) || !REJECTED.has(err.status) || texts.length < 2) {
        if (err instanceof EmbeddingEndpointError && REJECTED.has(err.status)) rejected.push(texts[0]!.ticketId);
        else {
          drainBackoff.failures++;
          drainBackoff.until = clock.now().getTime() + Math.min(60_000, 1000 * 2 ** (drainBackoff.failures - 1));
          await failed(queued.map((q) => q.ticket_id));
          throw err;
        }
      } else {
        // One input is likely refused (too long for the model, …): find it, embed the others.
        for (const text of texts) {
          try {
            const [vector] = await embedder.embed([input(text)]);
            done.push({ text, vector: vector! });
          } catch (one) {
            if (!(one instanceof EmbeddingEndpointError) || !REJECTED.has(one.status)) throw one;
            rejected.push(text.ticketId);
          }
        }
      }
    }
    drainBackoff.failures = 0;
    drainBackoff.until = 0;
    const rejectedSet = new Set(rejected);
    const dropped = queued.filter((q) => rejectedSet.has(q.ticket_id) && q.attempts + 1 >= MAX_REJECTIONS);
    await failed(rejected.filter((id) => !dropped.some((q) => q.ticket_id === id)));
    await db.transaction().execute(async (trx) => {
      const { seq } = await store.nextSeq(trx);
      const at = toTimestamp(clock.now());
      for (const { text, vector } of done) {
        await store.writeDocumentVector(trx, text.ticketId, encodeVector(vector), embedder.id, seq, at);
      }
      // A ticket changed again since it was read stays queued (its queued_at moved on); a deleted one leaves.
      const present = new Set(texts.map((t) => t.ticketId));
      const leaving = queued.filter((q) => !present.has(q.ticket_id) || !rejectedSet.has(q.ticket_id) || dropped.includes(q));
      for (const q of leaving) await store.dequeueEmbedding(trx, q.ticket_id, q.queued_at);
    });
    if (dropped.length) {
      throw new Error(`embeddings endpoint refused ${dropped.length} ticket(s) ${MAX_REJECTIONS} times; left without a new vector: ${dropped.map((q) => q.ticket_id).join(', ')}`);
    }
    return done.length;
  }
}

/** Characters of a ticket's text sent to a remote endpoint (~2,000 tokens: within common model limits). */
const REMOTE_MAX_CHARS = 8000;
/** Statuses by which an endpoint refuses a request's content (not its own availability). */
const REJECTED = new Set([400, 413, 422]);
/** Times a ticket refused alone is retried before it leaves the queue. */
const MAX_REJECTIONS = 5;

/** Rows read per query while an in-process index loads or catches up. */
const LOAD_BATCH = 5000;
/** Rows indexed between two yields to the event loop during a load (see `yieldToEventLoop`). */
const LOAD_SLICE = 2000;

const round = (x: number): number => Math.round(x * 1e6) / 1e6;

/** A hit with score 0 and no keyword match says nothing about the query: never returned. */
const relevantOnly = (fused: FusedHit<number>[]): FusedHit<number>[] => fused.filter((h) => h.score > 0 || h.keyword !== null);

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!;
  return s;
}

export type SearchService = ReturnType<typeof createSearchService>;
