/**
 * Ranking of one query: BM25 keyword side + embedding side, each under the search's filters,
 * fused into one score in [0, 1], with one round of pseudo-relevance feedback (the recipe
 * measured in docs/search.md).
 */
import type { Static } from 'typebox';
import type { Db } from '../db/schema.js';
import { AppError, validationError } from '../http/problem.js';
import { rocchioExpand } from './embedding/feedback.js';
import { EmbeddingEndpointError } from './embedding/openai-compatible.js';
import { WinkGloveEmbedder } from './embedding/wink-glove.js';
import type { EmbedderProvider } from './embedder-provider.js';
import type { FilterFollower, FilterIndex } from './filter-index.js';
import type { KeywordFollower, VectorFollower } from './index-follower.js';
import type { KeywordIndex } from './keyword-index.js';
import type { InvertedIndex } from './keyword-memory.js';
import type { SearchBody } from './schemas.js';
import * as store from './store.js';
import { type FusedHit, type FusionOptions, HYBRID_RECIPE, type ScoredHit, fuseResults } from './text/fusion.js';
import { SEARCH_TUNING } from './tuning.js';
import type { VectorIndex } from './vector-index.js';

export type SearchMode = NonNullable<Static<typeof SearchBody>['mode']>;

export interface Ranking {
  fused: FusedHit<number>[];
  keyword: ScoredHit<number>[];
  semantic: ScoredHit<number>[];
}

export interface RankerDeps {
  db: Db;
  keyword: KeywordIndex;
  embedderProvider: EmbedderProvider;
  keywordIndex: KeywordFollower;
  vectorIndex: VectorFollower;
  filterIndex: FilterFollower;
}

/** The query's vector, the index it searches and the cosine a hit needs without a word match. */
interface SemanticQuery {
  vector: Float32Array;
  vectors: VectorIndex | null;
  floor: number;
  builtIn: boolean;
}

type SideSearch<Q> = (query: Q, k: number) => Promise<ScoredHit<number>[]>;

export function createRanker(deps: RankerDeps) {
  const { db, keyword, embedderProvider } = deps;

  /** The query embedded, with the vector index caught up to `seq`; null when the semantic side has nothing to search by. */
  async function semanticQuery(
    queryText: string,
    state: { seq: number; componentsId: string | null },
    mode: SearchMode,
    hasTerms: boolean,
  ): Promise<SemanticQuery | null> {
    if (mode === 'keyword') return null;
    const embedder = await embedderProvider.withComponents(db, state.componentsId);
    let v: Float32Array | undefined;
    try {
      [v] = await embedder.embed([queryText]);
    } catch (err) {
      // A remote endpoint that fails (down, 5xx, timeout) must not fail the search: hybrid
      // degrades to the keyword side; with nothing else to rank by, a 503.
      if (!(err instanceof EmbeddingEndpointError)) throw err;
      if (mode === 'semantic' || !hasTerms)
        throw new AppError('unavailable', 'Semantic search is unavailable: the embeddings endpoint did not answer; retry later or search with mode "keyword"', {
          headers: { 'retry-after': '5' },
        });
      return null;
    }
    if (!v?.some((x) => x !== 0)) return null;
    const builtIn = embedder instanceof WinkGloveEmbedder;
    const floor = !builtIn ? -Infinity : embedderProvider.fitted ? SEARCH_TUNING.semanticFloor.fitted : SEARCH_TUNING.semanticFloor.plain;
    return { vector: v, vectors: await deps.vectorIndex.catchUp(embedder.id, state.seq), floor, builtIn };
  }

  /** Runs the recipe; `depth` hits per side. */
  async function rank(queryText: string, filters: store.SearchFilters, mode: SearchMode, depth: number): Promise<Ranking> {
    if (filters.brandIds !== null && filters.brandIds.length === 0) return { fused: [], keyword: [], semantic: [] };
    const terms = mode === 'semantic' ? [] : store.queryTerms(queryText);
    const state = await store.readState(db);
    // The in-process indexes catch up with the tables (each one indexed query when idle; the
    // filter fields only for a search with filters beyond brand); on PostgreSQL their reads overlap.
    const [words, query, fields] = await Promise.all([
      terms.length ? deps.keywordIndex.catchUp(state.seq) : null,
      semanticQuery(queryText, state, mode, terms.length > 0),
      store.filterCondition(filters).joinTickets ? deps.filterIndex.catchUp(state.seq) : null,
    ]);
    const bounds = !query?.builtIn ? null : embedderProvider.fitted ? SEARCH_TUNING.semanticBounds.fitted : SEARCH_TUNING.semanticBounds.plain;
    const fusion: FusionOptions = { ...HYBRID_RECIPE.fusion, semanticBounds: bounds ?? undefined };
    if (terms.length === 0 && query === null) {
      throw validationError('/query', 'contains no searchable words');
    }
    const sides = filteredSides(filters, words, query?.vectors ?? null, fields);

    const kwTerms = terms.length > 1 && words ? pruneCommonTerms(words, terms) : terms;
    const kw1 = await sides.keyword(kwTerms, depth);
    const semWide = query ? await sides.semantic(query.vector, Math.max(depth, SEARCH_TUNING.semanticShortlist)) : [];
    const sem1 = semWide.slice(0, depth);
    if (mode === 'keyword') return { fused: fuseResults(kw1, [], { ...HYBRID_RECIPE.fusion, keywordWeight: 1 }), keyword: kw1, semantic: [] };
    if (mode === 'semantic') {
      const above = sem1.filter((h) => h.score >= (query?.floor ?? -Infinity));
      return { fused: relevantOnly(fuseResults([], above, { ...fusion, keywordWeight: 0 })), keyword: [], semantic: above };
    }
    return withFeedback(
      { terms, words, query, keyword: kw1, semanticWide: semWide, semantic: sem1 },
      {
        fusion,
        depth,
        searchKeyword: sides.keyword,
        termsOf: (docIds) => keyword.termsOf(db, docIds),
      },
    );
  }

  return { rank };
}

export type Ranker = ReturnType<typeof createRanker>;

/**
 * Each side's search under the filters. The brand is each index's own partition; the other
 * filters are the in-process filter index's predicate (filter-index.ts), which both indexes apply
 * inside their scan to the hits that would enter their top k, so a filtered search is exact in
 * one pass and costs what an unfiltered one does, plus a few array reads per such hit (before:
 * SQL probes of `tickets` for 10x over-fetched hits, 211 ms p95 at 1M; docs/search.md).
 */
function filteredSides(
  filters: store.SearchFilters,
  words: InvertedIndex | null,
  vectors: VectorIndex | null,
  fields: FilterIndex | null,
): { keyword: SideSearch<readonly string[]>; semantic: SideSearch<Float32Array> } {
  const accept = fields?.matcher(filters) ?? null;
  return {
    async semantic(q, k) {
      return vectors ? vectors.search(q, filters.brandIds, k, { accept }) : [];
    },
    async keyword(t, k) {
      return words && t.length ? words.search(t, { brandIds: filters.brandIds, accept }, k) : [];
    },
  };
}

/** Both sides' first pass of a hybrid search. */
interface FirstPass {
  /** The query's own terms (before the common-term cut). */
  terms: readonly string[];
  words: InvertedIndex | null;
  query: SemanticQuery | null;
  keyword: ScoredHit<number>[];
  /** The semantic shortlist (`semanticShortlist` deep); `semantic` is its top `depth`. */
  semanticWide: ScoredHit<number>[];
  semantic: ScoredHit<number>[];
}

/**
 * Hybrid: fuses the first pass, then one round of feedback from its top documents on both sides.
 * The relevance test of a hit: a match of the query's own words (first keyword pass), or a query
 * cosine (before feedback) at or above the floor. Feedback only reorders.
 */
async function withFeedback(
  first: FirstPass,
  options: {
    fusion: FusionOptions;
    depth: number;
    searchKeyword: SideSearch<readonly string[]>;
    termsOf: (docIds: readonly number[]) => Promise<Map<number, string[]>>;
  },
): Promise<Ranking> {
  const { words, keyword: kw1, semanticWide: semWide, semantic: sem1 } = first;
  const { fusion, depth } = options;
  const qvec = first.query?.vector ?? null;
  const vectors = first.query?.vectors ?? null;
  const floor = first.query?.floor ?? -Infinity;
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

  const fused1 = fuseResults(kw1, sem1, fusion);
  const feedbackIds = fused1.slice(0, HYBRID_RECIPE.feedbackDocuments).map((h) => h.id);
  if (feedbackIds.length === 0) return { fused: final(fused1), keyword: kw1, semantic: sem1 };

  let kw2 = kw1;
  // Feedback terms only refine a keyword match; with none, they would only add drift.
  if (kw1.length && words) {
    const extra = feedbackTerms(words, first.terms, feedbackIds, await options.termsOf(feedbackIds));
    // bm25 sums over the terms of a query, so the expanded query (original terms counted
    // `originalRepeat` times, plus the feedback terms) scores repeat * first pass + feedback
    // pass: only the short feedback query runs again (exact within both passes' depth).
    const fb = extra.length ? await options.searchKeyword(extra, depth) : [];
    const scores = new Map<number, number>();
    for (const h of kw1) scores.set(h.id, HYBRID_RECIPE.originalRepeat * h.score);
    for (const h of fb) scores.set(h.id, (scores.get(h.id) ?? 0) + h.score);
    kw2 = [...scores]
      .map(([id, score]) => ({ id, score }))
      .sort((a, b) => b.score - a.score || a.id - b.id)
      .slice(0, depth);
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

/** RM3-lite: the most distinctive terms of the feedback documents (`termsByDoc`), not already in the query. */
function feedbackTerms(words: InvertedIndex, queryTerms: readonly string[], feedbackIds: readonly number[], termsByDoc: Map<number, string[]>): string[] {
  const query = new Set(queryTerms);
  const prior = new Map<string, number>();
  feedbackIds.forEach((id, rank) => {
    for (const term of new Set(termsByDoc.get(id) ?? [])) {
      if (query.has(term) || term.length > 64) continue;
      prior.set(term, (prior.get(term) ?? 0) + 1 / (rank + 1));
    }
  });
  // Long conversations have thousands of terms; look up frequencies of the likeliest only.
  const candidates = [...prior.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, SEARCH_TUNING.feedbackCandidates)
    .map(([t]) => t);
  const { total, df } = words.documentFrequencies(candidates);
  const n = Math.max(1, total);
  return candidates
    .map((t) => [t, prior.get(t)! * Math.log(1 + n / Math.max(1, df.get(t) ?? 0))] as const)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, HYBRID_RECIPE.keywordTerms)
    .map(([t]) => t);
}

/** A hit with score 0 and no keyword match says nothing about the query: never returned. */
const relevantOnly = (fused: FusedHit<number>[]): FusedHit<number>[] => fused.filter((h) => h.score > 0 || h.keyword !== null);

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!;
  return s;
}
