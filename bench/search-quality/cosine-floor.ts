/**
 * Distribution of raw query-document cosines with the production embedder, to choose the
 * semantic relevance floor (docs/search.md, "Semantic relevance floor"):
 *   tsx bench/search-quality/cosine-floor.ts [seed ...]        (default seeds 1 2)
 *
 * Same split as run.ts (70 % documents, 1,000 queries, relevant = same intent). For SIF with
 * 0 (plain, a corpus under 1,000 tickets) and 2 (fitted) common components, fitted on the
 * documents as the reindex does, it prints percentiles of the cosine of relevant and irrelevant
 * (query, document) pairs over all pairs and over each query's semantic top 100 (what the
 * semantic side can return), the share of each kept at candidate floors, and the best cosine
 * reached by off-topic queries (nothing to do with banking).
 */
import { resolve } from 'node:path';
import { WinkGloveEmbedder } from '../../src/search/embedding/wink-glove.js';
import { loadBanking77, splitDataset } from './dataset.js';
import { embedAll } from './harness.js';

const seeds = process.argv.length > 2 ? process.argv.slice(2).map(Number) : [1, 2];
const rows = loadBanking77();
const embedder = await WinkGloveEmbedder.load(resolve(process.env.NEXUS_EMBEDDINGS_CACHE ?? '.cache/embeddings'));
const offTopic = [
  'zebra crossing',
  'printer on fire',
  'the office printer caught fire',
  'weather forecast for tomorrow',
  'football match results',
  'recipe for chocolate cake',
  'my cat is sick',
  'holiday in the mountains',
  'broken window in the kitchen',
  'guitar lessons for beginners',
  'elephant',
  'how tall is mount everest',
];
const floors = [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5];

const pct = (sorted: Float64Array, p: number): string => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!.toFixed(3) : '-');
const sortedOf = (xs: number[]): Float64Array => Float64Array.from(xs).sort();
const share = (sorted: Float64Array, t: number): number => {
  let lo = 0,
    hi = sorted.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (sorted[m]! < t) lo = m + 1;
    else hi = m;
  }
  return (sorted.length - lo) / Math.max(1, sorted.length);
};
const dot = (a: Float32Array, b: Float32Array): number => {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!;
  return s;
};

for (const seed of seeds) {
  const { documents, queries } = splitDataset(rows, { seed, documentFraction: 0.7, queryCount: 1000 });
  for (const components of [0, 2]) {
    const extra = offTopic.map((text, i) => ({ id: -1 - i, text, label: '(off-topic)' }));
    const { docVecs, queryVecs } = await embedAll(embedder, documents, [...queries, ...extra], { components });
    const rel: number[] = [],
      irr: number[] = [],
      relTop: number[] = [],
      irrTop: number[] = [],
      bestIrr: number[] = [];
    queries.forEach((q, qi) => {
      const qv = queryVecs[qi]!;
      if (!qv.some((x) => x !== 0)) return;
      const scored: { c: number; r: boolean }[] = [];
      let best = -1;
      documents.forEach((d, di) => {
        const c = dot(qv, docVecs[di]!);
        const r = d.label === q.label;
        (r ? rel : irr).push(c);
        if (!r && c > best) best = c;
        scored.push({ c, r });
      });
      bestIrr.push(best);
      scored.sort((a, b) => b.c - a.c);
      for (const s of scored.slice(0, 100)) (s.r ? relTop : irrTop).push(s.c);
    });
    const off = extra.map((e, i) => {
      const qv = queryVecs[queries.length + i]!;
      let best = -1;
      for (const v of docVecs) best = Math.max(best, dot(qv, v));
      return `${e.text} ${best.toFixed(3)}`;
    });
    const sets = { relevant: sortedOf(rel), irrelevant: sortedOf(irr), 'relevant top100': sortedOf(relTop), 'irrelevant top100': sortedOf(irrTop) };
    console.log(`\nseed ${seed}, ${components} common components: ${rel.length} relevant and ${irr.length} irrelevant pairs`);
    console.log(`${'pairs'.padEnd(18)} ${['p01', 'p05', 'p10', 'p25', 'p50', 'p75', 'p90', 'p99'].map((s) => s.padStart(6)).join(' ')}   mean`);
    for (const [name, s] of Object.entries(sets)) {
      const mean = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
      console.log(`${name.padEnd(18)} ${[0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99].map((p) => pct(s, p).padStart(6)).join(' ')}   ${mean.toFixed(3)}`);
    }
    console.log(`kept at floor      ${floors.map((f) => f.toFixed(2).padStart(6)).join(' ')}`);
    for (const [name, s] of Object.entries(sets)) console.log(`${name.padEnd(18)} ${floors.map((f) => share(s, f).toFixed(3).padStart(6)).join(' ')}`);
    console.log(`best irrelevant cosine per query: p50 ${pct(sortedOf(bestIrr), 0.5)}, p90 ${pct(sortedOf(bestIrr), 0.9)}`);
    console.log(`off-topic queries, best cosine over the corpus: ${off.join('; ')}`);
  }
}
