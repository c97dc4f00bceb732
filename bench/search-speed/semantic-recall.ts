/**
 * The semantic first pass is approximate above `VectorIndex.approximateFrom`: its overlap with an
 * exact scan (top `k` of one brand), and the time of each, through the service's own embedder and
 * vector index.
 */
import type { Db } from '../../src/db/schema.js';
import type { SearchService } from '../../src/search/service.js';
import { readState } from '../../src/search/store.js';
import { SEARCH_TUNING } from '../../src/search/tuning.js';

/** Null when the query embeds to nothing or no vector is indexed. */
export async function measureSemanticRecall(
  search: SearchService,
  db: Db,
  queryText: string,
  brandId: string,
  k = SEARCH_TUNING.semanticShortlist,
): Promise<{ recall: number; ms: number; exactMs: number } | null> {
  const state = await readState(db);
  const embedder = await search.embedderProvider.withComponents(db, state.componentsId);
  const [v] = await embedder.embed([queryText]);
  if (!v?.some((x) => x !== 0)) return null;
  const space = await search.embedderProvider.vectorSpace(db, state.componentsId);
  const vectors = (await search.vectorIndex.catchUpFitted(space.storedId, state.seq, space.fit)).index;
  if (!vectors) return null;
  let t = performance.now();
  const got = vectors.search(v, [brandId], k);
  const ms = performance.now() - t;
  t = performance.now();
  const exact = vectors.search(v, [brandId], k, { exact: true });
  const exactMs = performance.now() - t;
  const ids = new Set(got.map((h) => h.id));
  return { recall: exact.length ? exact.filter((h) => ids.has(h.id)).length / exact.length : 1, ms, exactMs };
}
