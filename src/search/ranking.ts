/**
 * Ranking of one query: BM25 keyword side + embedding side, each under the search's filters,
 * fused into one score in [0, 1], with one round of pseudo-relevance feedback (the recipe
 * measured in docs/search.md).
 */
import type { Static } from 'typebox';
import type { Db } from '../db/schema.js';
import { AppError, validationError } from '../http/problem.js';
import { removeCommonComponent } from './embedding/embedder.js';
import { rocchioExpand } from './embedding/feedback.js';
import { WordNet, wordnetDictionary } from './embedding/wordnet.js';
import { type SoftMatcher, type SoftText, distinctiveness, softMatcher, weightedMean } from './embedding/soft-match.js';
import { EmbeddingEndpointError } from './embedding/openai-compatible.js';
import { WinkGloveEmbedder } from './embedding/wink-glove.js';
import type { DomainReferences, EmbedderProvider } from './embedder-provider.js';
import type { FilterFollower, FilterIndex } from './filter-index.js';
import type { KeywordFollower, VectorFollower } from './index-follower.js';
import type { KeywordIndex } from './keyword-index.js';
import type { InvertedIndex } from './keyword-memory.js';
import type { SearchBody } from './schemas.js';
import * as store from './store.js';
import { type FusedHit, type FusionOptions, HYBRID_RECIPE, type ScoredHit, fuseResults } from './text/fusion.js';
import { oneEditVariants, typoTolerant } from './text/typos.js';
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
  references: DomainReferences | null;
  /** The soft word matcher of small corpora (built-in embedder only). */
  soft: SoftMatcher | null;
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
    const space = await embedderProvider.vectorSpace(db, state.componentsId);
    const embedder = space.embedder;
    const builtIn = embedder instanceof WinkGloveEmbedder;
    // The index serving the fit `state` names, or the previous fit's while that one loads: the
    // query is projected with the fit of the index it searches, never another.
    const served = deps.vectorIndex.catchUpFitted(space.storedId, state.seq, space.fit);
    let v: Float32Array | undefined;
    try {
      [v] = builtIn ? [embedder.embedRawOne(queryText)] : await embedder.embed([queryText]);
    } catch (err) {
      // A remote endpoint that fails (down, 5xx, timeout) must not fail the search: hybrid
      // degrades to the keyword side; with nothing else to rank by, a 503.
      await served.catch(() => undefined);
      if (!(err instanceof EmbeddingEndpointError)) throw err;
      if (mode === 'semantic' || !hasTerms)
        throw new AppError('unavailable', 'Semantic search is unavailable: the embeddings endpoint did not answer; retry later or search with mode "keyword"', {
          headers: { 'retry-after': '5' },
        });
      return null;
    }
    const { index, fit } = await served;
    if (fit) v = removeCommonComponent(v!, fit.components);
    if (!v?.some((x) => x !== 0)) return null;
    const references = fit ? await embedderProvider.domainReferences(fit) : null;
    const soft = builtIn && SEARCH_TUNING.softMatchDocuments > 0 ? softMatcherOf(embedder) : null;
    return { vector: v, vectors: index, floor: builtIn ? SEARCH_TUNING.semanticFloor : -Infinity, builtIn, references, soft };
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
    const bounds = query?.builtIn ? SEARCH_TUNING.semanticBounds : null;
    const fusion: FusionOptions = {
      ...HYBRID_RECIPE.fusion,
      semanticBounds: bounds ?? undefined,
      keywordScaleAtLeast: words && terms.length ? SEARCH_TUNING.keywordIdealShare * idealBm25(words, terms) : undefined,
    };
    if (terms.length === 0 && query === null) {
      throw validationError('/query', 'contains no searchable words');
    }
    const sides = filteredSides(filters, words, query?.vectors ?? null, fields);

    const kwTerms = words ? withTypoVariants(words, terms.length > 1 ? pruneCommonTerms(words, terms) : terms) : terms;
    const kw1 = await sides.keyword(kwTerms, depth);
    const wide = Math.max(depth, SEARCH_TUNING.semanticShortlist);
    let semWide = query ? await sides.semantic(query.vector, wide) : [];
    // A query the corpus is not about gets no hit by meaning alone (see `aboutTheCorpus`).
    if (query?.references && !aboutTheCorpus(query.vector, semWide, query.references)) query.floor = Infinity;
    // A small corpus (all of it in the shortlist) is ranked with the soft word match too.
    let softScores: Map<number, SoftScore> | null = null;
    // What the relevance floor reads: the query's own cosine, or on a small corpus the cosine
    // blended with the soft word match, against its own floor (the soft match of unrelated words
    // is rarely near 0; calibrated on the small-corpora set, docs/search.md).
    let relevance = new Map(semWide.map((h) => [h.id, h.score]));
    if (query?.soft && semWide.length < wide && semWide.length <= SEARCH_TUNING.softMatchDocuments) {
      softScores = await softMatchScores(db, query.soft, query.soft.prepare(queryText), semWide);
      relevance = new Map(withSoftMatch(semWide, softScores, false).map((h) => [h.id, h.score]));
      semWide = withSoftMatch(semWide, softScores, true);
      if (query.floor !== Infinity) query.floor = SEARCH_TUNING.softMatchFloor;
    }
    const sem1 = semWide.slice(0, depth);
    if (mode === 'keyword') return { fused: fuseResults(kw1, [], { ...HYBRID_RECIPE.fusion, keywordWeight: 1 }), keyword: kw1, semantic: [] };
    if (mode === 'semantic') {
      const above = sem1.filter((h) => (relevance.get(h.id) ?? -Infinity) >= (query?.floor ?? -Infinity));
      return { fused: relevantOnly(fuseResults([], above, { ...fusion, keywordWeight: 0 })), keyword: [], semantic: above };
    }
    return withFeedback(
      { terms, words, query, keyword: kw1, semanticWide: semWide, semantic: sem1, softScores, relevance },
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
  /** Soft word match of each document of a small corpus (`softMatchDocuments`), else null. */
  softScores: Map<number, SoftScore> | null;
  /** What the relevance floor is compared with, per shortlisted document: the query's own cosine (blended on a small corpus). */
  relevance: Map<number, number>;
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
  const relevance = first.relevance;
  const relevant = (id: number): boolean => {
    if (matchedWords.has(id)) return true;
    if (!qvec || !vectors) return false;
    let cos = relevance.get(id);
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
  // Like the keyword feedback, the vector feedback needs a keyword match: without one the fused
  // top 5 is the semantic list's own, whose centroid adds nothing on Banking77 (+0.001) and
  // drags a paraphrase away from its only match in a small brand (test/api/search-small-corpora).
  if (qvec && vectors && kw1.length) {
    const fb = feedbackIds.map((id) => vectors.vectorOf(id)).filter((v): v is Float32Array => v !== undefined);
    // The expanded vector stays close to the query: rescore the first pass's wider shortlist
    // and the keyword hits instead of scanning every vector again.
    const shortlist = new Set<number>(semWide.map((h) => h.id));
    for (const h of kw2) shortlist.add(h.id);
    const expanded = rocchioExpand(qvec, fb, HYBRID_RECIPE.semanticBeta);
    // Every shortlisted id already passed the filters (both sides applied them).
    sem2 = vectors.searchAmong(expanded, shortlist, depth);
    if (first.softScores) sem2 = withSoftMatch(sem2, first.softScores, true);
  }
  // The expanded keyword scores count the query's own terms `originalRepeat` times: so does the full match.
  const scale = kw2 !== kw1 && fusion.keywordScaleAtLeast ? fusion.keywordScaleAtLeast * HYBRID_RECIPE.originalRepeat : fusion.keywordScaleAtLeast;
  return { fused: final(fuseResults(kw2, sem2, { ...fusion, keywordScaleAtLeast: scale })), keyword: kw2, semantic: sem2 };
}

const matchers = new WeakMap<WinkGloveEmbedder, { settings: string; matcher: SoftMatcher }>();
/** The embedder's soft matcher with the word-sense settings of SEARCH_TUNING (a bench may change them). */
function softMatcherOf(embedder: WinkGloveEmbedder): SoftMatcher {
  const { softMatchSenseScore: score, softMatchSenses: senses, softMatchHypernyms: hypernyms } = SEARCH_TUNING;
  const settings = `${score}:${senses}:${hypernyms}`;
  const known = matchers.get(embedder);
  if (known?.settings === settings) return known.matcher;
  const wordnet = score > 0 ? new WordNet(wordnetDictionary(), { senses, hypernyms }) : null;
  const matcher = softMatcher(embedder, wordnet && { wordnet, score });
  matchers.set(embedder, { settings, matcher });
  return matcher;
}

/** A document's soft word match with the query, and how distinctively it matches the query's words among the documents scored. */
interface SoftScore {
  soft: number;
  distinct: number;
}

/** The soft word match of the query with each hit's ticket text (subject and body), read from the tables. */
async function softMatchScores(db: Db, matcher: SoftMatcher, query: SoftText, hits: readonly ScoredHit<number>[]): Promise<Map<number, SoftScore>> {
  const ticketByDoc = await store.ticketIdsOf(
    db,
    hits.map((h) => h.id),
  );
  const texts = new Map((await store.loadTicketTexts(db, [...ticketByDoc.values()])).map((t) => [t.ticketId, t]));
  const docs: number[] = [];
  const perWord: number[][] = [];
  for (const [docId, ticketId] of ticketByDoc) {
    const text = texts.get(ticketId);
    if (!text) continue;
    docs.push(docId);
    perWord.push(matcher.wordScores(query, matcher.prepare(store.semanticTextOf(text))));
  }
  // Only when it counts: the shipped weight is 0 (docs/search.md), and the bench sets it to compare.
  const distinct = SEARCH_TUNING.softMatchDistinctWeight ? distinctiveness(perWord, query.weights) : undefined;
  return new Map(docs.map((id, i) => [id, { soft: weightedMean(perWord[i]!, query.weights), distinct: distinct?.[i] ?? 0 }]));
}

/**
 * Cosines blended with the soft word match, (cos + w soft) / (1 + w), best first; for ranking
 * (`distinct`), plus `softMatchDistinctWeight` x the document's distinctiveness over (1 + w). The
 * relevance floor reads the blend without it (calibrated before it; docs/search.md).
 */
function withSoftMatch(hits: readonly ScoredHit<number>[], softScores: ReadonlyMap<number, SoftScore>, distinct: boolean): ScoredHit<number>[] {
  const w = SEARCH_TUNING.softMatchWeight;
  const z = distinct ? SEARCH_TUNING.softMatchDistinctWeight : 0;
  return hits
    .map((h) => {
      const s = softScores.get(h.id);
      return { id: h.id, score: (h.score + w * (s?.soft ?? 0) + z * (s?.distinct ?? 0)) / (1 + w) };
    })
    .sort((a, b) => b.score - a.score || a.id - b.id);
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

/**
 * The bm25 of a document matching every query term once in its subject at the average length:
 * the scale of a full match, against which a weak best match is measured (`keywordIdealShare`).
 * Terms the corpus does not know count with the largest idf: a document lacks them too.
 */
function idealBm25(words: InvertedIndex, terms: readonly string[]): number {
  const { total, df } = words.documentFrequencies(terms);
  const { k1 } = { k1: 1.2 };
  let ideal = 0;
  for (const t of terms) {
    const n = df.get(t) ?? 0;
    const idf = Math.max(1e-6, Math.log((total - n + 0.5) / (n + 0.5)));
    ideal += (idf * (k1 + 1) * 2) / (2 + k1);
  }
  return ideal;
}

/**
 * Whether the corpus is about the query at all: the mean cosine of the query with its
 * `domainNeighbours` nearest among the searched tickets and the shipped customer messages is
 * above the same with the shipped everyday sentences about nothing a helpdesk handles (nature,
 * food, sport, history). Cosines of short texts overlap too much for one floor to keep
 * paraphrases ("can't sign on, the program quits") and drop unrelated queries ("zebra crossing");
 * this comparison, made per query, separates them far better (test/api/search-small-corpora).
 */
function aboutTheCorpus(q: Float32Array, nearest: readonly ScoredHit<number>[], references: DomainReferences): boolean {
  const m = SEARCH_TUNING.domainNeighbours;
  const topMean = (scores: number[]): number => {
    scores.sort((a, b) => b - a);
    const top = scores.slice(0, m);
    return top.length ? top.reduce((s, x) => s + x, 0) / top.length : -Infinity;
  };
  const corpus = topMean([...nearest.slice(0, m).map((h) => h.score), ...references.support.map((v) => dot(q, v))]);
  const elsewhere = topMean(references.notSupport.map((v) => dot(q, v)));
  return corpus > elsewhere + SEARCH_TUNING.domainMargin;
}

/**
 * One edit of tolerance on the keyword side: a query term of `typoMinLength` letters or more
 * (alphabetic: numbers and codes stay exact) that the corpus barely knows, when a term one edit
 * away is found in more than `typoRatio` times as many documents, is searched together with that
 * term ("pasword" also finds "password"). A term the corpus uses as much as its neighbours (an
 * exact match) is left alone, so exact queries rank as before.
 */
function withTypoVariants(words: InvertedIndex, terms: readonly string[]): string[] {
  const out = [...terms];
  if (SEARCH_TUNING.typoRatio <= 0) return out;
  for (const term of terms) {
    if (!typoTolerant(term, SEARCH_TUNING.typoMinLength)) continue;
    // A variant is in at most every document: a term in a tenth of them (at the default ratio)
    // can have no variant that many times more common, and its ~400 variants are not looked up.
    const { total, df: ownDf } = words.documentFrequencies([term]);
    const own = ownDf.get(term) ?? 0;
    if (SEARCH_TUNING.typoRatio * own >= total) continue;
    const variants = oneEditVariants(term);
    const { df } = words.documentFrequencies(variants);
    let best = '';
    let bestDf = 0;
    for (const v of variants) {
      const n = df.get(v) ?? 0;
      if (n > bestDf || (n === bestDf && n > 0 && v < best)) [best, bestDf] = [v, n];
    }
    if (bestDf > 0 && bestDf > SEARCH_TUNING.typoRatio * own && !out.includes(best)) out.push(best);
  }
  return out;
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
