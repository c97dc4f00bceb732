/**
 * Research grid behind docs/search-research.md:
 *   tsx bench/search-quality/variants.ts [seed] [kw|sem|hyb|custom]
 * Every variant is measured on the same seeded split (nDCG@10 / P@10 / MRR@10).
 * `custom` runs the hybrid grid given as JSON in env GRID, e.g.
 *   GRID='[["name",{"semPrfDocs":5,"fusion":{"method":"rrf","keywordWeight":0.5}}]]'
 * (env PCS sets the number of removed common components, default 2).
 */
import { evaluateRankings, judgeByLabel } from './metrics.js';
import { loadBanking77, splitDataset } from './dataset.js';
import { KeywordIndex, VectorIndex, embedAll, runRecipe } from './harness.js';
import type { KeywordConfig, RecipeOptions } from './harness.js';
import { WinkGloveEmbedder } from '../../src/search/embedding/wink-glove.js';
import type { LabelledText } from './dataset.js';

const seed = Number(process.argv[2] ?? 1);
const only = process.argv[3];
const customGrid = JSON.parse(process.env.GRID ?? '[]') as [string, Partial<RecipeOptions>][];
const split = splitDataset(loadBanking77(), { seed });
const { documents, queries } = split;
const labelCounts = new Map<string, number>();
for (const d of documents) labelCounts.set(d.label, (labelCounts.get(d.label) ?? 0) + 1);
const labelOf = (id: number): string => documents[id]!.label;

function score(rankings: number[][], qs: readonly LabelledText[]): string {
  const m = evaluateRankings(rankings.map((r, i) => judgeByLabel(r, qs[i]!.label, labelOf, labelCounts)));
  return `nDCG ${m.ndcg.toFixed(4)}  P ${m.precision.toFixed(4)}  MRR ${m.mrr.toFixed(4)}`;
}

console.log(`seed ${seed}: ${documents.length} docs, ${queries.length} queries`);
const embedder = await WinkGloveEmbedder.load('.cache/embeddings');

const base: RecipeOptions = {
  depth: 100,
  fusion: { method: 'blend', keywordWeight: 0.5 },
  semPrfDocs: 0,
  semPrfBeta: 1,
  kwPrfDocs: 0,
  kwPrfTerms: 0,
  kwPrfOrigRepeat: 1,
  prfSource: 'fused',
};

if (!only || only === 'kw') {
  const configs: [string, KeywordConfig][] = [
    ['unicode61 raw', { tokenizer: 'unicode61', analyze: false }],
    ['unicode61 remove_diacritics 2 raw', { tokenizer: 'unicode61 remove_diacritics 2', analyze: false }],
    ['porter unicode61 remove_diacritics 2 raw', { tokenizer: 'porter unicode61 remove_diacritics 2', analyze: false }],
    ['analyzed: contractions only', { tokenizer: 'unicode61 remove_diacritics 2', analyze: true, stem: false, removeStopwords: false }],
    ['analyzed: +stopwords', { tokenizer: 'unicode61 remove_diacritics 2', analyze: true, stem: false, removeStopwords: true }],
    ['analyzed: +porter', { tokenizer: 'unicode61 remove_diacritics 2', analyze: true, stem: true, removeStopwords: false }],
    ['analyzed: +stopwords +porter', { tokenizer: 'unicode61 remove_diacritics 2', analyze: true, stem: true, removeStopwords: true }],
  ];
  for (const [name, cfg] of configs) {
    const kw = new KeywordIndex(documents, cfg);
    const r = queries.map((q) => kw.search(q.text, 10).map((h) => h.id));
    console.log(`keyword | ${name.padEnd(42)} | ${score(r, queries)}`);
    kw.close();
  }
}

if (!only || only === 'sem') {
  for (const components of [0, 1, 2, 3]) {
    const { docVecs, queryVecs } = await embedAll(embedder, documents, queries, { components });
    const vec = new VectorIndex(docVecs);
    const r = queryVecs.map((q) => vec.search(q, 10).map((h) => h.id));
    console.log(`semantic | SIF, ${components} common components removed | ${score(r, queries)}`);
  }
}

if (!only || only === 'hyb' || only === 'custom') {
  const kw = new KeywordIndex(documents, { tokenizer: 'unicode61 remove_diacritics 2', analyze: true, stem: true, removeStopwords: true });
  const { docVecs, queryVecs } = await embedAll(embedder, documents, queries, { components: Number(process.env.PCS ?? 2) });
  const vec = new VectorIndex(docVecs);
  const grid: [string, Partial<RecipeOptions>][] =
    only === 'custom'
      ? customGrid
      : [
          ['rrf k=60 w=0.5', { fusion: { method: 'rrf', keywordWeight: 0.5 } }],
          ['rrf k=20 w=0.5', { fusion: { method: 'rrf', keywordWeight: 0.5, rrfK: 20 } }],
          ['blend w=0.3', { fusion: { method: 'blend', keywordWeight: 0.3 } }],
          ['blend w=0.4', { fusion: { method: 'blend', keywordWeight: 0.4 } }],
          ['blend w=0.5', { fusion: { method: 'blend', keywordWeight: 0.5 } }],
          ['blend w=0.6', { fusion: { method: 'blend', keywordWeight: 0.6 } }],
          ['blend0.5 + semPRF fused 5 b=1', { semPrfDocs: 5, semPrfBeta: 1 }],
          ['blend0.5 + semPRF fused 10 b=1', { semPrfDocs: 10, semPrfBeta: 1 }],
          ['blend0.5 + semPRF fused 10 b=2', { semPrfDocs: 10, semPrfBeta: 2 }],
          ['blend0.5 + semPRF self 10 b=1', { semPrfDocs: 10, semPrfBeta: 1, prfSource: 'self' }],
          ['blend0.5 + kwPRF fused 10 docs 5 terms r2', { kwPrfDocs: 10, kwPrfTerms: 5, kwPrfOrigRepeat: 2 }],
          ['blend0.5 + kwPRF fused 10 docs 10 terms r2', { kwPrfDocs: 10, kwPrfTerms: 10, kwPrfOrigRepeat: 2 }],
          ['blend0.5 + both PRF fused 10 b=1, 10 terms', { semPrfDocs: 10, semPrfBeta: 1, kwPrfDocs: 10, kwPrfTerms: 10, kwPrfOrigRepeat: 2 }],
          ['rrf k=20 + semPRF fused 5 b=1', { fusion: { method: 'rrf', keywordWeight: 0.5, rrfK: 20 }, semPrfDocs: 5, semPrfBeta: 1 }],
          ['CHOSEN blend0.5 + semPRF 5 b=1 + kwPRF 5 docs 3 terms r2', { semPrfDocs: 5, semPrfBeta: 1, kwPrfDocs: 5, kwPrfTerms: 3, kwPrfOrigRepeat: 2 }],
        ];
  for (const [name, o] of grid) {
    const opts = { ...base, ...o } as RecipeOptions;
    const res = queries.map((q, i) => runRecipe(kw, vec, q.text, queryVecs[i]!, opts));
    console.log(
      `hybrid | ${name.padEnd(44)} | ${score(
        res.map((r) => r.hybrid),
        queries,
      )}`,
    );
  }
}
