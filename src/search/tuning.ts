import { HYBRID_RECIPE } from './text/fusion.js';

/**
 * Feedback, filters and pagination knobs; the defaults are the measured recipe. Mutable so the
 * quality bench can try other floors and bounds in one process.
 */
export const SEARCH_TUNING = {
  ...HYBRID_RECIPE,
  /** Deepest position pagination reaches (each side fetches up to this many). */
  maxDepth: 1000,
  /**
   * The built-in embedder's fit is refined on the corpus (general sample + newest `fitSample`
   * tickets) once it has `refitFirstDocuments` documents, then each time it has grown
   * `refitGrowth` times since the last fit. Until the first, the general fit (shipped sample).
   */
  refitFirstDocuments: 300,
  refitGrowth: 3,
  fitSample: 1000,
  /** Feedback terms whose document frequency is looked up (the likeliest by rank-weighted occurrence). */
  feedbackCandidates: 30,
  /** First-pass semantic hits kept as the shortlist the feedback pass rescores. */
  semanticShortlist: 1000,
  commonTermDocuments: 5000,
  /**
   * Keyword typo tolerance: a query term (stemmed, alphabetic) of at least `typoMinLength` letters
   * is also searched as the term one edit away found in the most documents, when that term is in
   * more than `typoRatio` times as many documents as the query's own (0 turns it off).
   */
  typoMinLength: 5,
  /**
   * The keyword component is bm25 / max(best bm25 of the query, this share of a full match's
   * bm25): one common word of a long query matched no longer counts as a perfect keyword match.
   */
  keywordIdealShare: 1,
  typoRatio: 10,
  commonTermShare: 0.05,
  /**
   * Semantic relevance test of the built-in embedder: a hit without a match of the query's own
   * words is returned only when the query is about the corpus (`domainNeighbours`, `domainMargin`:
   * see `aboutTheCorpus` in ranking.ts) and the cosine of the hit's vector with the query's
   * (before feedback) is at least `semanticFloor`. Chosen by cross-validation on Banking77 and
   * the small-corpora set (docs/search.md). Remote embedders have neither (their cosine scale is
   * the model's).
   */
  semanticFloor: 0.1,
  /**
   * Soft word matching on small corpora (embedding/soft-match.ts): when the brands searched hold
   * at most `softMatchDocuments` documents, each semantic hit's cosine becomes (cosine + w x soft
   * match) / (1 + w), w = `softMatchWeight`, the soft match being the query words' best word-to-word
   * similarity with the ticket's words; a hit without a word match then needs that blended score
   * at `softMatchFloor` (instead of its cosine at `semanticFloor`). `softMatchDocuments` 0 turns
   * it off (docs/search.md, "Small corpora").
   */
  softMatchDocuments: 200,
  softMatchWeight: 2,
  softMatchFloor: 0.3,
  /**
   * Ranking only, on small corpora: plus this weight x how distinctively the ticket matches the
   * query's words among the brand's tickets (per word, the z-score of its best cosine; see
   * `distinctiveness` in soft-match.ts), over (1 + w). Off (0): at 0.1 it gains 1 pair of 46 on
   * the small-corpora set but costs nDCG@10 on Banking77 brands of 25 tickets in all 3 samples
   * measured (docs/search.md); kept for `bench/search-quality/small-brands-api.ts`.
   */
  softMatchDistinctWeight: 0,
  /**
   * Word senses in the soft word match (embedding/wordnet.ts): two words sharing a WordNet synset
   * among their first `softMatchSenses` senses ("parcel"~"package", "guarantee"~"warranty") match
   * with at least `softMatchSenseScore` (1: as the same word; 0 turns senses off);
   * `softMatchHypernyms` lets a sense's direct hypernyms count too. Chosen by 5-fold
   * cross-validation on Banking77 brands of 10 to 200 tickets (docs/search.md, "Small corpora"):
   * the score helps up to 1, the number of senses hardly matters, hypernyms cost.
   */
  softMatchSenseScore: 1,
  softMatchSenses: 3,
  softMatchHypernyms: false,
  domainNeighbours: 3,
  domainMargin: 0,
  /**
   * Fixed cosine bounds of the semantic component of the built-in embedder: (cos - low) / (high -
   * low), clamped to [0, 1]; null: min-max over the query's semantic hits. low = the floor, high =
   * 1 (identical meaning).
   */
  semanticBounds: { low: 0.1, high: 1 } as { low: number; high: number } | null,
};
