/**
 * Ranking metrics with binary relevance. All are cut at k (default 10):
 * P@k = relevant in top k / k; nDCG@k = DCG / ideal DCG, ideal computed from the number
 * of relevant documents that exist in the index (capped at k); MRR@k = 1/rank of the
 * first relevant hit within the top k, else 0.
 */

export interface RankingMetrics {
  readonly precision: number;
  readonly ndcg: number;
  readonly mrr: number;
  readonly queries: number;
}

export function precisionAtK(relevant: readonly boolean[], k: number): number {
  let hits = 0;
  for (let i = 0; i < Math.min(k, relevant.length); i++) if (relevant[i]) hits++;
  return hits / k;
}

export function ndcgAtK(relevant: readonly boolean[], totalRelevant: number, k: number): number {
  let dcg = 0;
  for (let i = 0; i < Math.min(k, relevant.length); i++) if (relevant[i]) dcg += 1 / Math.log2(i + 2);
  let ideal = 0;
  for (let i = 0; i < Math.min(k, totalRelevant); i++) ideal += 1 / Math.log2(i + 2);
  return ideal === 0 ? 0 : dcg / ideal;
}

export function reciprocalRankAtK(relevant: readonly boolean[], k: number): number {
  for (let i = 0; i < Math.min(k, relevant.length); i++) if (relevant[i]) return 1 / (i + 1);
  return 0;
}

export interface JudgedRanking {
  /** Relevance of each returned document, in rank order. */
  readonly relevant: readonly boolean[];
  /** How many relevant documents exist in the index for this query. */
  readonly totalRelevant: number;
}

export function evaluateRankings(rankings: readonly JudgedRanking[], k = 10): RankingMetrics {
  let p = 0,
    n = 0,
    m = 0;
  for (const r of rankings) {
    p += precisionAtK(r.relevant, k);
    n += ndcgAtK(r.relevant, r.totalRelevant, k);
    m += reciprocalRankAtK(r.relevant, k);
  }
  const q = Math.max(1, rankings.length);
  return { precision: p / q, ndcg: n / q, mrr: m / q, queries: rankings.length };
}

/** Judges ranked document ids against a label function (relevant iff same label). */
export function judgeByLabel(
  rankedIds: readonly number[],
  queryLabel: string,
  labelOf: (id: number) => string,
  labelCounts: ReadonlyMap<string, number>,
): JudgedRanking {
  return {
    relevant: rankedIds.map((id) => labelOf(id) === queryLabel),
    totalRelevant: labelCounts.get(queryLabel) ?? 0,
  };
}
