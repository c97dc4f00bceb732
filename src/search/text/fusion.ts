/**
 * Fusion of keyword (FTS5 bm25) and semantic (cosine) result lists into one ranking.
 *
 * Two methods, both producing `score` in [0, 1] plus the per-side components:
 *
 * - `blend` (calibrated score blend, the default recipe):
 *     keyword.normalized  = bm25 / max bm25 among this query's keyword hits   (in [0,1])
 *     semantic.normalized = clamp((cos - low) / (high - low), 0, 1) with fixed `semanticBounds`
 *                           (the product's built-in embedder: low = its relevance floor, high = 1),
 *                           else min-max over this query's semantic hits (low = lowest cosine,
 *                           high = best cosine)
 *     score = wK * keyword.normalized + wS * semantic.normalized, with wK + wS = 1.
 *   A document missing from one list gets 0 for that side. The keyword side is relative to the
 *   query (its best match anchors 1.0); with fixed bounds the semantic side is absolute.
 *
 * - `rrf` (reciprocal rank fusion):
 *     contribution = w / (k + rank) per side (rank is 1-based),
 *     score = sum of contributions / (sum of weights / (k + 1)),
 *   so a document ranked first on both sides scores exactly 1.
 *
 * Ties are broken by id order of first appearance (keyword list first) so the output is
 * deterministic.
 */

/** bm25 must be passed as a positive "higher is better" number (i.e. -bm25() of FTS5). */
export interface ScoredHit<Id> {
  readonly id: Id;
  readonly score: number;
}

export interface SideComponent {
  /** 1-based rank in that side's list. */
  readonly rank: number;
  /** Raw side score (positive bm25 or cosine). */
  readonly raw: number;
  /** Side score normalised to [0,1] (blend) or its RRF term scaled to [0,1]. */
  readonly normalized: number;
}

export interface FusedHit<Id> {
  readonly id: Id;
  /** Fused score in [0, 1]; see module comment. */
  readonly score: number;
  readonly keyword: SideComponent | null;
  readonly semantic: SideComponent | null;
}

export interface FusionOptions {
  readonly method?: 'blend' | 'rrf';
  /** Weight of the keyword side in [0,1]; the semantic side gets 1 - keywordWeight. */
  readonly keywordWeight?: number;
  /** RRF constant k (default 60). */
  readonly rrfK?: number;
  /** Maximum number of fused hits returned (default: all). */
  readonly limit?: number;
  /**
   * Blend only: fixed cosine bounds for the semantic side, normalized = clamp((cos - low) /
   * (high - low), 0, 1), instead of min-max over this query's hits.
   */
  readonly semanticBounds?: { readonly low: number; readonly high: number } | undefined;
  /**
   * Blend only: the keyword side is normalised by max(best bm25 of the query's hits, this), so a
   * weak best match (one common word of a long query) does not count as a perfect one.
   */
  readonly keywordScaleAtLeast?: number | undefined;
}

/** Default weight chosen on the Banking77 bench (see docs/search-research.md). */
export const DEFAULT_KEYWORD_WEIGHT = 0.5;

export function fuseResults<Id>(keyword: readonly ScoredHit<Id>[], semantic: readonly ScoredHit<Id>[], options: FusionOptions = {}): FusedHit<Id>[] {
  const method = options.method ?? 'blend';
  const wK = clamp01(options.keywordWeight ?? DEFAULT_KEYWORD_WEIGHT);
  const wS = 1 - wK;
  const k = options.rrfK ?? 60;

  const kwNorm = method === 'blend' ? maxNormalizer(keyword, options.keywordScaleAtLeast ?? 0) : rrfNormalizer(k);
  const bounds = options.semanticBounds;
  const semNorm = method !== 'blend' ? rrfNormalizer(k) : bounds ? fixedNormalizer(bounds.low, bounds.high) : minMaxNormalizer(semantic);

  const order: Id[] = [];
  const kwById = new Map<Id, SideComponent>();
  const semById = new Map<Id, SideComponent>();
  keyword.forEach((h, i) => {
    if (kwById.has(h.id)) return;
    kwById.set(h.id, { rank: i + 1, raw: h.score, normalized: kwNorm(h.score, i + 1) });
    order.push(h.id);
  });
  semantic.forEach((h, i) => {
    if (semById.has(h.id)) return;
    semById.set(h.id, { rank: i + 1, raw: h.score, normalized: semNorm(h.score, i + 1) });
    if (!kwById.has(h.id)) order.push(h.id);
  });

  const fused = order.map((id, pos) => {
    const kw = kwById.get(id) ?? null;
    const sem = semById.get(id) ?? null;
    const score = clamp01(wK * (kw?.normalized ?? 0) + wS * (sem?.normalized ?? 0));
    return { hit: { id, score, keyword: kw, semantic: sem }, pos };
  });
  fused.sort((a, b) => b.hit.score - a.hit.score || a.pos - b.pos);
  const out = fused.map((f) => f.hit);
  return options.limit !== undefined ? out.slice(0, options.limit) : out;
}

type Normalizer = (raw: number, rank: number) => number;

/**
 * The retrieval recipe chosen on the Banking77 bench (docs/search-research.md):
 * 1. keyword: FTS5 over toKeywordIndexText(), MATCH from buildFtsMatchQuery(), top `depth`
 *    by bm25; semantic: cosine over SIF vectors (2 common components removed), top `depth`;
 * 2. fuseResults(..., { method: 'blend', keywordWeight: 0.5 });
 * 3. feedback from the top `feedbackDocuments` fused hits: rocchioExpand(query, their
 *    vectors, semanticBeta) and selectFeedbackTerms(count = keywordTerms) +
 *    buildExpandedFtsMatchQuery(originalRepeat); re-run both sides to `depth`;
 * 4. fuse again with the same options; that is the final ranking and score.
 */
export const HYBRID_RECIPE = {
  depth: 100,
  fusion: { method: 'blend', keywordWeight: DEFAULT_KEYWORD_WEIGHT } as const satisfies FusionOptions,
  feedbackDocuments: 3,
  semanticBeta: 1,
  keywordTerms: 3,
  originalRepeat: 2,
} as const;

function maxNormalizer<Id>(hits: readonly ScoredHit<Id>[], atLeast = 0): Normalizer {
  let max = atLeast > 0 && Number.isFinite(atLeast) ? atLeast : 0;
  for (const h of hits) if (Number.isFinite(h.score) && h.score > max) max = h.score;
  return (raw) => (max > 0 && Number.isFinite(raw) ? clamp01(raw / max) : 0);
}

function minMaxNormalizer<Id>(hits: readonly ScoredHit<Id>[]): Normalizer {
  let max = -Infinity,
    min = Infinity;
  for (const h of hits) {
    if (!Number.isFinite(h.score)) continue;
    if (h.score > max) max = h.score;
    if (h.score < min) min = h.score;
  }
  const span = max - min;
  // A single hit (or all equal) carries no spread: treat it as fully matching.
  return (raw) => (!Number.isFinite(raw) ? 0 : span > 0 ? clamp01((raw - min) / span) : 1);
}

function fixedNormalizer(low: number, high: number): Normalizer {
  const span = high - low;
  return (raw) => (!Number.isFinite(raw) ? 0 : span > 0 ? clamp01((raw - low) / span) : raw >= high ? 1 : 0);
}

function rrfNormalizer(k: number): Normalizer {
  // Scaled so rank 1 maps to 1; the weighted sum then stays within [0,1].
  return (_raw, rank) => (k + 1) / (k + rank);
}

function clamp01(x: number): number {
  return Number.isNaN(x) ? 0 : Math.min(1, Math.max(0, x));
}
