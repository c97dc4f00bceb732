/**
 * Semantic-side research: `tsx bench/search-quality/semantic-variants.ts [seed]`.
 * SIF smoothing constant a x number of removed common components, plus doc-side kNN
 * smoothing (measured, not adopted).
 */
import { evaluateRankings, judgeByLabel } from './metrics.js';
import { loadBanking77, splitDataset } from './dataset.js';
import { VectorIndex } from './harness.js';
import { loadGloveCache, gloveCachePath } from '../../src/search/embedding/glove-cache.js';
import { WinkGloveEmbedder } from '../../src/search/embedding/wink-glove.js';
import { computeCommonComponents, l2Normalize, removeCommonComponent } from '../../src/search/embedding/embedder.js';

const seed = Number(process.argv[2] ?? 1);
const { documents, queries } = splitDataset(loadBanking77(), { seed });
const labelCounts = new Map<string, number>();
for (const d of documents) labelCounts.set(d.label, (labelCounts.get(d.label) ?? 0) + 1);
const labelOf = (id: number): string => documents[id]!.label;
await WinkGloveEmbedder.load('.cache/embeddings');
const table = loadGloveCache(gloveCachePath('.cache/embeddings'));

function evalVecs(name: string, docVecs: Float32Array[], queryVecs: Float32Array[]): void {
  const vec = new VectorIndex(docVecs);
  const r = queryVecs.map((q) => vec.search(q, 10).map((h) => h.id));
  const m = evaluateRankings(r.map((ids, i) => judgeByLabel(ids, queries[i]!.label, labelOf, labelCounts)));
  console.log(`semantic | ${name.padEnd(40)} | nDCG ${m.ndcg.toFixed(4)}  P ${m.precision.toFixed(4)}  MRR ${m.mrr.toFixed(4)}`);
}

for (const a of [3e-4, 1e-3, 3e-3]) {
  const e = new WinkGloveEmbedder(table, { sifA: a });
  const dRaw = await e.embedRaw(documents.map((d) => d.text));
  const qRaw = await e.embedRaw(queries.map((q) => q.text));
  for (const n of [0, 1, 2, 3]) {
    const pcs = n > 0 ? computeCommonComponents(dRaw, n) : null;
    const fix = (v: Float32Array): Float32Array => (pcs ? removeCommonComponent(Float32Array.from(v), pcs) : v);
    const d = dRaw.map(fix);
    const q = qRaw.map(fix);
    evalVecs(`SIF a=${a} components=${n}`, d, q);
    if (a === 1e-3 && n === 2) {
      // Doc-side neighbour smoothing: d' = normalize(d + g * mean(5 nearest docs)).
      const vec = new VectorIndex(d);
      const nn = d.map((v) =>
        vec
          .search(v, 6)
          .slice(1)
          .map((h) => h.id),
      );
      for (const g of [0.5, 1]) {
        const sm = d.map((v, i) => {
          const o = Float32Array.from(v);
          for (const j of nn[i]!) for (let k = 0; k < o.length; k++) o[k]! += (g / nn[i]!.length) * d[j]![k]!;
          return l2Normalize(o);
        });
        evalVecs(`  + doc kNN-5 smoothing g=${g}`, sm, q);
      }
    }
  }
}
