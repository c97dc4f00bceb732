/**
 * The quality bench judges the ranking itself, not pages of results: ranked doc ids of a query
 * over every brand (no principal), straight from the search service's ranker.
 */
import type { SearchMode, SearchService } from '../../src/search/service.js';
import { HYBRID_RECIPE } from '../../src/search/text/fusion.js';

export async function rankIds(search: SearchService, queryText: string, mode: SearchMode, depth = 10): Promise<number[]> {
  const { fused } = await search.ranker.rank(queryText, { brandIds: null }, mode, Math.max(depth, HYBRID_RECIPE.depth));
  return fused.slice(0, depth).map((h) => h.id);
}
