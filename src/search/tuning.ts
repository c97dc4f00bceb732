import { HYBRID_RECIPE } from './text/fusion.js';

/**
 * Feedback, filters and pagination knobs; the defaults are the measured recipe. Mutable so the
 * quality bench can try other floors and bounds in one process.
 */
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
  semanticBounds: { fitted: { low: 0.45, high: 1 }, plain: null } as {
    fitted: { low: number; high: number } | null;
    plain: { low: number; high: number } | null;
  },
};
