/**
 * k-fold cross-validation of the search constants on Banking77, through the product path:
 *   npm run bench:search-cv -- [--folds=5] [--docs=4000] [--queries=300] [--seed=1]
 *
 * The rows are shuffled (seed) and cut into `folds` folds. For each fold: a fresh database with
 * `docs` tickets drawn from the other folds (bulk created through the ticket service; the
 * embedder's fit refined as the background job would), and `queries` rows of the held-out fold
 * as queries (relevant = same intent). Each constant is varied alone around the shipped values
 * (floor, keyword weight, feedback depth, feedback terms, Rocchio beta, keyword full-match
 * share, domain margin, typo ratio, fit sample size) and hybrid nDCG@10 is measured per fold;
 * printed as mean ± sd over the folds, with keyword and semantic for the shipped system. Runs in
 * about (folds × (bulk create + 25 × queries × 15 ms)), ~15 min at the defaults on 2 cores.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openRuntime } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import type { Principal } from '../../src/auth/scopes.js';
import { SEARCH_TUNING, type SearchMode, type SearchService } from '../../src/search/service.js';
import { HYBRID_RECIPE } from '../../src/search/text/fusion.js';
import { type LabelledText, loadBanking77, seededRandom } from './dataset.js';
import { evaluateRankings, judgeByLabel } from './metrics.js';
import { rankIds } from './rank-ids.js';

const arg = (name: string, fallback: number): number => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const folds = arg('folds', 5);
const docCount = arg('docs', 4000);
const queryCount = arg('queries', 300);
const seed = arg('seed', 1);
const principal: Principal = { tokenId: 'tok_bench', tokenName: 'bench', scopes: ['admin'], brandIds: null };

// biome-ignore lint/suspicious/noExplicitAny: the bench varies constants the product reads as readonly
const recipe = HYBRID_RECIPE as any;
type Setting = { constant: string; value: string; apply: () => void | Promise<void>; restore: () => void | Promise<void> };

function settingsFor(search: SearchService): Setting[] {
  const out: Setting[] = [];
  const tuning = (constant: keyof typeof SEARCH_TUNING, values: unknown[], extra?: (v: unknown) => void) => {
    const shipped = SEARCH_TUNING[constant];
    const shippedBounds = SEARCH_TUNING.semanticBounds;
    for (const v of values)
      out.push({
        constant,
        value: String(v),
        apply: () => {
          (SEARCH_TUNING as Record<string, unknown>)[constant] = v;
          extra?.(v);
        },
        restore: () => {
          (SEARCH_TUNING as Record<string, unknown>)[constant] = shipped;
          SEARCH_TUNING.semanticBounds = shippedBounds;
        },
      });
  };
  const fromRecipe = (constant: string, values: unknown[], set: (v: unknown) => void, reset: () => void) => {
    for (const v of values) out.push({ constant, value: String(v), apply: () => set(v), restore: reset });
  };
  out.push({ constant: 'shipped', value: '-', apply: () => undefined, restore: () => undefined });
  tuning('semanticFloor', [0, 0.1, 0.2, 0.3, 0.45], (v) => (SEARCH_TUNING.semanticBounds = { low: v as number, high: 1 }));
  const fusion = recipe.fusion;
  fromRecipe(
    'keywordWeight',
    [0.4, 0.5, 0.6],
    (v) => (recipe.fusion = { ...fusion, keywordWeight: v }),
    () => (recipe.fusion = fusion),
  );
  const fbDocs = recipe.feedbackDocuments;
  fromRecipe(
    'feedbackDocuments',
    [0, 3, 5, 10],
    (v) => (recipe.feedbackDocuments = v),
    () => (recipe.feedbackDocuments = fbDocs),
  );
  const terms = recipe.keywordTerms;
  fromRecipe(
    'keywordTerms',
    [0, 3, 5],
    (v) => (recipe.keywordTerms = v),
    () => (recipe.keywordTerms = terms),
  );
  const beta = recipe.semanticBeta;
  fromRecipe(
    'semanticBeta',
    [0.5, 1, 2],
    (v) => (recipe.semanticBeta = v),
    () => (recipe.semanticBeta = beta),
  );
  tuning('keywordIdealShare', [0, 0.5, 1]);
  tuning('domainMargin', [-0.05, 0, 0.05]);
  tuning('typoRatio', [0, 10, 50]);
  const sample = SEARCH_TUNING.fitSample;
  for (const v of [300, 1000, 3000])
    out.push({
      constant: 'fitSample',
      value: String(v),
      apply: async () => {
        SEARCH_TUNING.fitSample = v;
        await search.reindex({ refit: true, batchSize: 2000 });
        await settle(search);
      },
      restore: async () => {
        SEARCH_TUNING.fitSample = sample;
        await search.reindex({ refit: true, batchSize: 2000 });
        await settle(search);
      },
    });
  return out;
}

async function settle(search: SearchService): Promise<void> {
  await search.ranker.rank('warm up', { brandIds: null }, 'semantic', 10).catch(() => undefined);
  await search.vectorIndex.settled();
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / Math.max(1, xs.length - 1));
const pm = (xs: number[]) => `${mean(xs).toFixed(4)} ± ${sd(xs).toFixed(4)}`;

const rows = loadBanking77();
const rand = seededRandom(seed);
const shuffled = [...rows];
for (let i = shuffled.length - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
}
const results = new Map<string, number[]>();
const sides: Record<SearchMode, number[]> = { keyword: [], semantic: [], hybrid: [] };
const started = performance.now();
console.log(`${folds}-fold CV on ${rows.length} Banking77 rows (seed ${seed}): ${docCount} tickets and ${queryCount} held-out queries per fold`);

for (let f = 0; f < folds; f++) {
  const held = shuffled.filter((_, i) => i % folds === f);
  const rest = shuffled.filter((_, i) => i % folds !== f);
  const documents = rest.slice(0, docCount);
  const docTexts = new Set(documents.map((d) => d.text.trim().toLowerCase()));
  const queries: LabelledText[] = held.filter((q) => !docTexts.has(q.text.trim().toLowerCase())).slice(0, queryCount);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-search-cv-'));
  const runtime = await openRuntime(loadConfig({ ...process.env, NEXUS_DATA_DIR: dataDir, NEXUS_LOG_LEVEL: 'silent' }));
  try {
    const { services, db } = runtime;
    const search = services.search;
    const brand = await services.brands.create({ name: `fold ${f}` });
    const labelByTicket = new Map<string, string>();
    for (let i = 0; i < documents.length; i += 200) {
      const batch = documents.slice(i, i + 200);
      const created = await services.tickets.createMany(
        principal,
        batch.map((d, j) => ({ brand_id: brand.id, subject: d.text.trim().slice(0, 500) || '(empty)', customer: { email: `c${i + j}@example.com` } })),
      );
      for (const [j, t] of created.entries()) labelByTicket.set(t.id, batch[j]!.label);
      // The background job's refinement, as it would run while the tickets arrive.
      await search.maintain();
    }
    await settle(search);
    const docRows = await db.selectFrom('search_documents').select(['doc_id', 'ticket_id']).execute();
    const labelByDoc = new Map(docRows.map((r) => [Number(r.doc_id), labelByTicket.get(r.ticket_id)!]));
    const labelCounts = new Map<string, number>();
    for (const d of documents) labelCounts.set(d.label, (labelCounts.get(d.label) ?? 0) + 1);
    const ndcg = async (mode: SearchMode): Promise<number> => {
      const judged = [];
      for (const q of queries) {
        let ids: number[] = [];
        try {
          ids = await rankIds(search, q.text, mode, 10);
        } catch {
          // no searchable word: an empty ranking
        }
        judged.push(judgeByLabel(ids, q.label, (id) => labelByDoc.get(id) ?? '', labelCounts));
      }
      return evaluateRankings(judged).ndcg;
    };
    for (const mode of ['keyword', 'semantic'] as const) sides[mode].push(await ndcg(mode));
    for (const s of settingsFor(search)) {
      await s.apply();
      const value = await ndcg('hybrid');
      await s.restore();
      const key = `${s.constant}=${s.value}`;
      results.set(key, [...(results.get(key) ?? []), value]);
      if (s.constant === 'shipped') sides.hybrid.push(value);
    }
    console.log(
      `fold ${f + 1}: keyword ${sides.keyword.at(-1)!.toFixed(4)}, semantic ${sides.semantic.at(-1)!.toFixed(4)}, hybrid ${sides.hybrid.at(-1)!.toFixed(4)} (${((performance.now() - started) / 1000).toFixed(0)} s)`,
    );
  } finally {
    await runtime.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

console.log(`\nhybrid nDCG@10 per constant value (mean ± sd over ${folds} folds), others as shipped:`);
let last = '';
for (const [key, values] of results) {
  const [constant] = key.split('=');
  if (constant !== last && last) console.log('');
  last = constant!;
  console.log(`  ${key.padEnd(28)} ${pm(values)}`);
}
const gaps = sides.hybrid.map((h, i) => h - sides.keyword[i]!);
console.log(
  `\nshipped system over ${folds} folds: keyword ${pm(sides.keyword)}, semantic ${pm(sides.semantic)}, hybrid ${pm(sides.hybrid)}; hybrid - keyword ${pm(gaps)}`,
);
console.log(
  `bars (hybrid >= 0.76 mean, hybrid - keyword >= +0.08): ${mean(sides.hybrid) >= 0.76 ? 'PASS' : 'FAIL'} / ${mean(gaps) >= 0.08 ? 'PASS' : 'FAIL'}; ${((performance.now() - started) / 1000).toFixed(0)} s`,
);
