/**
 * Search-quality bench through the real product path:
 *   npm run bench:search-quality -- [seed ...] [--floor=x]        (default seed 1)
 *
 * For each seed: a fresh database (SQLite in a temporary folder, or PostgreSQL when
 * DATABASE_URL is set), 70 % of Banking77 created as tickets through the ticket service (so the
 * search indexer runs inside each ticket transaction), `search.reindex()` (what the automatic
 * fit job does once a brand reaches 1,000 tickets: fit the embedder's common components and
 * re-embed), then 1,000 other rows as queries through the search service, keyword-only,
 * semantic-only and hybrid. A result is relevant when its intent equals the query's.
 * Prints P@10, nDCG@10, MRR@10 per mode, the hybrid - keyword gap and hybrid / keyword and
 * hybrid / semantic ratios (baselines measured in the same run).
 * `--floor=x` overrides the semantic relevance floor of the fitted embedder (`none`: no floor),
 * `--bounds=low,high` sets the fixed cosine bounds of the semantic component (`none`: min-max per
 * query);
 * `--plain` skips the reindex (plain SIF vectors, no common components; `--floor` then sets the
 * plain floor), to measure the floor's cost (docs/search.md, "Semantic relevance floor").
 * CSV: env BANKING77_CSV, else ../shared/data/banking77/train.csv next to the repo.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openRuntime } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import type { Principal } from '../../src/auth/scopes.js';
import { SEARCH_TUNING, type SearchMode } from '../../src/search/service.js';
import { banking77Path, loadBanking77, splitDataset } from './dataset.js';
import { evaluateRankings, judgeByLabel, type RankingMetrics } from './metrics.js';
import { rankIds } from './rank-ids.js';

const args = process.argv.slice(2);
const floorArg = args.find((a) => a.startsWith('--floor='))?.slice('--floor='.length);
// --plain: no refit (plain SIF, as a corpus under 1,000 tickets); the floor then overrides the plain one.
const plain = args.includes('--plain');
if (floorArg !== undefined) SEARCH_TUNING.semanticFloor[plain ? 'plain' : 'fitted'] = floorArg === 'none' ? -Infinity : Number(floorArg);
const boundsArg = args.find((a) => a.startsWith('--bounds='))?.slice('--bounds='.length);
if (boundsArg) {
  const [low, high] = boundsArg.split(',').map(Number);
  SEARCH_TUNING.semanticBounds[plain ? 'plain' : 'fitted'] = boundsArg === 'none' ? null : { low: low!, high: high! };
}
const seedArgs = args.filter((a) => !a.startsWith('--'));
const seeds = seedArgs.length ? seedArgs.map(Number) : [1];
const rows = loadBanking77();
const principal: Principal = { tokenId: 'tok_bench', tokenName: 'bench', scopes: ['admin'], brandIds: null };
const fmt = (m: RankingMetrics): string => `${m.precision.toFixed(4).padStart(8)} ${m.ndcg.toFixed(4).padStart(8)} ${m.mrr.toFixed(4).padStart(8)}`;

console.log(
  `data: ${banking77Path()} (${rows.length} rows); semantic floor ${JSON.stringify(SEARCH_TUNING.semanticFloor)}, bounds ${JSON.stringify(SEARCH_TUNING.semanticBounds)}${plain ? ', plain SIF' : ''}`,
);
for (const seed of seeds) {
  const { documents, queries } = splitDataset(rows, { seed, documentFraction: 0.7, queryCount: 1000 });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-search-quality-'));
  const config = loadConfig({ ...process.env, NEXUS_DATA_DIR: dataDir, NEXUS_LOG_LEVEL: 'silent' });
  const runtime = await openRuntime(config);
  try {
    const { services, db } = runtime;
    const brand = await services.brands.create({ name: `Banking77 seed ${seed}` });
    let started = performance.now();
    const labelByTicket = new Map<string, string>();
    for (const [i, doc] of documents.entries()) {
      const ticket = await services.tickets.create(principal, {
        brand_id: brand.id,
        subject: doc.text.trim().slice(0, 500) || '(empty)',
        customer: { email: `customer${i}@example.com` },
      });
      labelByTicket.set(ticket.id, doc.label);
    }
    const createMs = performance.now() - started;
    started = performance.now();
    const { refitted } = plain ? { refitted: false } : await services.search.reindex();
    const reindexMs = performance.now() - started;
    const docRows = await db.selectFrom('search_documents').select(['doc_id', 'ticket_id']).execute();
    const labelByDoc = new Map(docRows.map((r) => [Number(r.doc_id), labelByTicket.get(r.ticket_id)!]));
    const labelCounts = new Map<string, number>();
    for (const d of documents) labelCounts.set(d.label, (labelCounts.get(d.label) ?? 0) + 1);

    console.log(
      `\nseed ${seed}: ${documents.length} tickets created in ${(createMs / 1000).toFixed(1)} s (${Math.round(documents.length / (createMs / 1000))}/s), reindex ${(reindexMs / 1000).toFixed(1)} s (components refitted: ${refitted}), ${queries.length} queries`,
    );
    console.log(`${'mode'.padEnd(10)} ${'P@10'.padStart(8)} ${'nDCG@10'.padStart(8)} ${'MRR@10'.padStart(8)}   ms/query`);
    const results: Record<SearchMode, RankingMetrics> = {} as Record<SearchMode, RankingMetrics>;
    for (const mode of ['keyword', 'semantic', 'hybrid'] as const) {
      const judged = [];
      const t0 = performance.now();
      for (const q of queries) {
        let ids: number[] = [];
        try {
          ids = await rankIds(services.search, q.text, mode, 10);
        } catch {
          // A query with no searchable word (422 over HTTP) counts as an empty ranking.
        }
        judged.push(judgeByLabel(ids, q.label, (id) => labelByDoc.get(id) ?? '', labelCounts));
      }
      const ms = (performance.now() - t0) / queries.length;
      results[mode] = evaluateRankings(judged);
      console.log(`${mode.padEnd(10)} ${fmt(results[mode])}   ${ms.toFixed(1)}`);
    }
    const gap = results.hybrid.ndcg - results.keyword.ndcg;
    // Ratios against the single-side baselines measured in this same run.
    console.log(
      `ratios nDCG@10: hybrid / keyword ${(results.hybrid.ndcg / results.keyword.ndcg).toFixed(3)}, hybrid / semantic ${(results.hybrid.ndcg / results.semantic.ndcg).toFixed(3)}; P@10 hybrid / keyword ${(results.hybrid.precision / results.keyword.precision).toFixed(3)}`,
    );
    const pass = results.hybrid.ndcg >= 0.7 && gap >= 0.06;
    console.log(`hybrid - keyword nDCG@10 = ${gap >= 0 ? '+' : ''}${gap.toFixed(4)}; bar (hybrid >= 0.70 and >= keyword + 0.06): ${pass ? 'PASS' : 'FAIL'}`);
    // Queries unrelated to banking: how many hits each returns (of at most 100).
    const offTopic = ['zebra crossing', 'printer on fire', 'recipe for chocolate cake', 'my cat is sick', 'guitar lessons for beginners', 'elephant'];
    const offCounts = [];
    for (const q of offTopic) offCounts.push(`${q} ${(await rankIds(services.search, q, 'hybrid', 100)).length}`);
    console.log(`off-topic hybrid hits (max 100): ${offCounts.join('; ')}`);
    // Also reachable through the HTTP-facing entry point: the same ranking, with scores.
    const sample = await services.search.search(principal, { query: queries[0]!.text, limit: 3 });
    console.log(
      `example: "${queries[0]!.text}" -> ${sample.data.map((h) => `${h.score.toFixed(3)} ${JSON.stringify(h.ticket.subject.slice(0, 40))}`).join(' | ')}`,
    );
  } finally {
    await runtime.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
