/**
 * In-memory research harness (not the product path; see run.ts for that): `tsx bench/search-quality/research.ts [seed ...]` (default seeds 1 2).
 * Indexes 70% of Banking77 as documents, queries with 1000 of the other rows (relevant =
 * same intent) and prints P@10, nDCG@10, MRR@10 for keyword-only, semantic-only and the
 * hybrid recipe, plus hybrid/keyword. CSV path: env BANKING77_CSV, else
 * ../shared/data/banking77/train.csv next to the repo. GloVe cache: env
 * NEXUS_EMBEDDINGS_CACHE, else .cache/embeddings (built on first run).
 */
import { resolve } from 'node:path';
import { WinkGloveEmbedder } from '../../src/search/embedding/wink-glove.js';
import { HYBRID_RECIPE } from '../../src/search/text/fusion.js';
import { banking77Path, loadBanking77, splitDataset } from './dataset.js';
import { KeywordIndex, VectorIndex, embedAll, runRecipe } from './harness.js';
import type { RecipeOptions } from './harness.js';
import { evaluateRankings, judgeByLabel } from './metrics.js';
import type { RankingMetrics } from './metrics.js';

const seeds = process.argv.length > 2 ? process.argv.slice(2).map(Number) : [1, 2];
const rows = loadBanking77();
const embedder = await WinkGloveEmbedder.load(resolve(process.env.NEXUS_EMBEDDINGS_CACHE ?? '.cache/embeddings'));

const recipe: RecipeOptions = {
  depth: HYBRID_RECIPE.depth,
  fusion: HYBRID_RECIPE.fusion,
  semPrfDocs: HYBRID_RECIPE.feedbackDocuments,
  semPrfBeta: HYBRID_RECIPE.semanticBeta,
  kwPrfDocs: HYBRID_RECIPE.feedbackDocuments,
  kwPrfTerms: HYBRID_RECIPE.keywordTerms,
  kwPrfOrigRepeat: HYBRID_RECIPE.originalRepeat,
  prfSource: 'fused',
};

const fmt = (m: RankingMetrics): string => `${m.precision.toFixed(4).padStart(8)} ${m.ndcg.toFixed(4).padStart(8)} ${m.mrr.toFixed(4).padStart(8)}`;

console.log(`data: ${banking77Path()} (${rows.length} rows)`);
for (const seed of seeds) {
  const { documents, queries } = splitDataset(rows, { seed, documentFraction: 0.7, queryCount: 1000 });
  const labelCounts = new Map<string, number>();
  for (const d of documents) labelCounts.set(d.label, (labelCounts.get(d.label) ?? 0) + 1);
  const labelOf = (id: number): string => documents[id]!.label;

  const started = performance.now();
  const kw = new KeywordIndex(documents, { tokenizer: 'unicode61 remove_diacritics 2', analyze: true });
  const { docVecs, queryVecs } = await embedAll(embedder, documents, queries, { components: 2 });
  const vec = new VectorIndex(docVecs);
  const results = queries.map((q, i) => runRecipe(kw, vec, q.text, queryVecs[i]!, recipe));
  kw.close();
  const ms = performance.now() - started;

  const judge = (pick: (r: (typeof results)[number]) => number[]): RankingMetrics =>
    evaluateRankings(results.map((r, i) => judgeByLabel(pick(r), queries[i]!.label, labelOf, labelCounts)));
  const keyword = judge((r) => r.keyword);
  const semantic = judge((r) => r.semantic);
  const hybrid = judge((r) => r.hybrid);

  console.log(`\nseed ${seed}: ${documents.length} documents, ${queries.length} queries, ${(ms / queries.length).toFixed(1)} ms/query (index+search)`);
  console.log(`${'side'.padEnd(10)} ${'P@10'.padStart(8)} ${'nDCG@10'.padStart(8)} ${'MRR@10'.padStart(8)}`);
  console.log(`${'keyword'.padEnd(10)} ${fmt(keyword)}`);
  console.log(`${'semantic'.padEnd(10)} ${fmt(semantic)}`);
  console.log(`${'hybrid'.padEnd(10)} ${fmt(hybrid)}`);
  console.log(`hybrid/keyword nDCG@10 = ${(hybrid.ndcg / keyword.ndcg).toFixed(3)}, hybrid - keyword = ${(hybrid.ndcg - keyword.ndcg).toFixed(4)}`);
}
