/**
 * Search-quality bench through the real product path:
 *   npm run bench:search-quality -- [seed ...] [--floor=x] [--bounds=low,high|none] [--reindex]
 *   (default seed 1)
 *
 * For each seed: a fresh database (SQLite in a temporary folder, or PostgreSQL when
 * DATABASE_URL is set), 70 % of Banking77 created as tickets through the ticket service (so the
 * search indexer runs inside each ticket transaction) while the `search-maintenance` job runs on
 * its product interval (it refines the embedder's fit as the corpus grows). Then 1,000 other rows
 * as queries through the search service, keyword-only, semantic-only and hybrid, measured twice:
 * "right after" the last create (whatever fit the background had reached) and "settled" (the
 * job's last due refit done and the in-process index switched to it). `--reindex` adds a third
 * measurement after `search.reindex()` (a fit on the general sample + the newest `fitSample` tickets, everything
 * re-embedded). A result is relevant when its intent equals the query's.
 *
 * `--end-on-refit`: stop creating at the first ticket (from `--min-docs=2000` on) after which the
 * job's next refit is due (the corpus has grown `refitGrowth` times since the stored fit), so that
 * "right after" is measured with the refit due but not done and "settled" after it: the case where
 * the two can differ. The job is stopped at that create, so that the whole "right after"
 * measurement runs on the fit before the refit (with the job running, the refit would land part
 * way through it). The printed fits say which one served each measurement, at its start and end.
 * `--no-typos` skips the typo section.
 *
 * Typos: the same queries with one edit in one word of 5+ letters (seeded: a letter dropped,
 * doubled, replaced or two swapped), keyword and hybrid, with the typo tolerance on and off; the
 * clean queries with it off show what it costs exact matches.
 *
 * Prints P@10, nDCG@10, MRR@10 per mode, the hybrid - keyword gap and ratios against baselines
 * measured in the same run. `--floor=x` overrides the semantic relevance floor (`none`: no
 * floor), `--bounds=low,high` the fixed cosine bounds of the semantic component (`none`: min-max).
 * CSV: env BANKING77_CSV, else ../shared/data/banking77/train.csv next to the repo.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openRuntime } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import type { Principal } from '../../src/auth/scopes.js';
import { SEARCH_TUNING, type SearchMode, type SearchService } from '../../src/search/service.js';
import { countDocuments, readState } from '../../src/search/store.js';
import { fitDocuments } from '../../src/search/embedder-provider.js';
import { coreJobs, startJobs } from '../../src/workers.js';
import { banking77Path, type LabelledText, loadBanking77, splitDataset } from './dataset.js';
import { withTypos } from './typos.js';
import { evaluateRankings, judgeByLabel, type RankingMetrics } from './metrics.js';
import { rankIds } from './rank-ids.js';

const args = process.argv.slice(2);
const floorArg = args.find((a) => a.startsWith('--floor='))?.slice('--floor='.length);
if (floorArg !== undefined) SEARCH_TUNING.semanticFloor = floorArg === 'none' ? -Infinity : Number(floorArg);
const boundsArg = args.find((a) => a.startsWith('--bounds='))?.slice('--bounds='.length);
if (boundsArg) {
  const [low, high] = boundsArg.split(',').map(Number);
  SEARCH_TUNING.semanticBounds = boundsArg === 'none' ? null : { low: low!, high: high! };
}
const withReindex = args.includes('--reindex');
const endOnRefit = args.includes('--end-on-refit');
const minDocs = Number(args.find((a) => a.startsWith('--min-docs='))?.slice('--min-docs='.length) ?? 2000);
const withTyposSection = !args.includes('--no-typos');
const seedArgs = args.filter((a) => !a.startsWith('--'));
const seeds = seedArgs.length ? seedArgs.map(Number) : [1];
const rows = loadBanking77();
const principal: Principal = { tokenId: 'tok_bench', tokenName: 'bench', scopes: ['admin'], brandIds: null };
const fmt = (m: RankingMetrics): string => `${m.precision.toFixed(4).padStart(8)} ${m.ndcg.toFixed(4).padStart(8)} ${m.mrr.toFixed(4).padStart(8)}`;
const silent = { error: () => undefined };

async function evaluate(
  search: SearchService,
  queries: readonly LabelledText[],
  mode: SearchMode,
  labelByDoc: Map<number, string>,
  labelCounts: Map<string, number>,
): Promise<{ metrics: RankingMetrics; ms: number }> {
  const judged = [];
  const t0 = performance.now();
  for (const q of queries) {
    let ids: number[] = [];
    try {
      ids = await rankIds(search, q.text, mode, 10);
    } catch {
      // A query with no searchable word (422 over HTTP) counts as an empty ranking.
    }
    judged.push(judgeByLabel(ids, q.label, (id) => labelByDoc.get(id) ?? '', labelCounts));
  }
  return { metrics: evaluateRankings(judged), ms: (performance.now() - t0) / queries.length };
}

console.log(
  `data: ${banking77Path()} (${rows.length} rows); semantic floor ${SEARCH_TUNING.semanticFloor}, bounds ${JSON.stringify(SEARCH_TUNING.semanticBounds)}; typo tolerance ${SEARCH_TUNING.typoMinLength}+ letters, ratio ${SEARCH_TUNING.typoRatio}`,
);
for (const seed of seeds) {
  const { documents, queries } = splitDataset(rows, { seed, documentFraction: 0.7, queryCount: 1000 });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-search-quality-'));
  const config = loadConfig({ ...process.env, NEXUS_DATA_DIR: dataDir, NEXUS_LOG_LEVEL: 'silent' });
  const runtime = await openRuntime(config);
  // The product's upkeep job, on its own interval, as `npm start` runs it.
  const stopJobs = startJobs(
    coreJobs(runtime).filter((j) => j.name === 'search-maintenance'),
    silent,
  );
  let jobsStopped = false;
  try {
    const { services, db } = runtime;
    const search = services.search;
    const brand = await services.brands.create({ name: `Banking77 seed ${seed}` });
    let started = performance.now();
    const labelByTicket = new Map<string, string>();
    let created = 0;
    for (const [i, doc] of documents.entries()) {
      const ticket = await services.tickets.create(principal, {
        brand_id: brand.id,
        subject: doc.text.trim().slice(0, 500) || '(empty)',
        customer: { email: `customer${i}@example.com` },
      });
      labelByTicket.set(ticket.id, doc.label);
      created++;
      if (endOnRefit && created >= minDocs) {
        // The job's own condition (indexing.ts, refineFit): stop at the create that makes a refit due.
        const last = fitDocuments((await readState(db)).componentsId);
        const count = await countDocuments(db);
        if (count >= SEARCH_TUNING.refitFirstDocuments && count >= last * SEARCH_TUNING.refitGrowth && count !== last) {
          console.log(`\nstopped at ${count} tickets: the stored fit is of ${last} documents, a refit is due (growth ${SEARCH_TUNING.refitGrowth}x)`);
          await stopJobs();
          jobsStopped = true;
          break;
        }
      }
    }
    const corpus = documents.slice(0, created);
    const createMs = performance.now() - started;
    const docRows = await db.selectFrom('search_documents').select(['doc_id', 'ticket_id']).execute();
    const labelByDoc = new Map(docRows.map((r) => [Number(r.doc_id), labelByTicket.get(r.ticket_id)!]));
    const labelCounts = new Map<string, number>();
    for (const d of corpus) labelCounts.set(d.label, (labelCounts.get(d.label) ?? 0) + 1);
    console.log(
      `\nseed ${seed}: ${corpus.length} tickets created in ${(createMs / 1000).toFixed(1)} s (${Math.round(corpus.length / (createMs / 1000))}/s), ${queries.length} queries`,
    );

    const table = async (label: string): Promise<Record<SearchMode, RankingMetrics>> => {
      const state = await readState(db);
      console.log(`\n${label} (stored fit ${state.componentsId ?? 'none: general'}; index serving ${search.vectorIndex.fitId ?? '-'})`);
      console.log(`${'mode'.padEnd(10)} ${'P@10'.padStart(8)} ${'nDCG@10'.padStart(8)} ${'MRR@10'.padStart(8)}   ms/query`);
      const out = {} as Record<SearchMode, RankingMetrics>;
      for (const mode of ['keyword', 'semantic', 'hybrid'] as const) {
        const { metrics, ms } = await evaluate(search, queries, mode, labelByDoc, labelCounts);
        out[mode] = metrics;
        console.log(`${mode.padEnd(10)} ${fmt(metrics)}   ${ms.toFixed(1)}`);
      }
      const after = await readState(db);
      console.log(`(at the end: stored fit ${after.componentsId ?? 'none: general'}; index serving ${search.vectorIndex.fitId ?? '-'})`);
      const gap = out.hybrid.ndcg - out.keyword.ndcg;
      console.log(
        `hybrid - keyword nDCG@10 = ${gap >= 0 ? '+' : ''}${gap.toFixed(4)}; hybrid / keyword ${(out.hybrid.ndcg / out.keyword.ndcg).toFixed(3)}, hybrid / semantic ${(out.hybrid.ndcg / out.semantic.ndcg).toFixed(3)}`,
      );
      return out;
    };

    // Right after the last create: no waiting, whatever the background job has done so far.
    const right = await table('right after the bulk create');
    // Settled: the job's due refit (if any) done, and the index of the new fit serving.
    if (!jobsStopped) await stopJobs();
    jobsStopped = true;
    await search.maintain();
    await search.ranker.rank('warm', { brandIds: null }, 'semantic', 10).catch(() => undefined);
    await search.vectorIndex.settled();
    const settled = await table('settled (background refit done)');
    const delta = (a: RankingMetrics, b: RankingMetrics) => (a.ndcg - b.ndcg >= 0 ? '+' : '') + (a.ndcg - b.ndcg).toFixed(4);
    console.log(
      `\nright after - settled nDCG@10: keyword ${delta(right.keyword, settled.keyword)}, semantic ${delta(right.semantic, settled.semantic)}, hybrid ${delta(right.hybrid, settled.hybrid)} (bar: |hybrid| <= 0.01: ${Math.abs(right.hybrid.ndcg - settled.hybrid.ndcg) <= 0.01 ? 'PASS' : 'FAIL'})`,
    );
    if (withReindex) {
      started = performance.now();
      await search.reindex();
      await search.ranker.rank('warm', { brandIds: null }, 'semantic', 10).catch(() => undefined);
      await search.vectorIndex.settled();
      console.log(`reindex ${((performance.now() - started) / 1000).toFixed(1)} s`);
      await table('after nexus search reindex');
    }

    // Typos: keyword and hybrid on the typo'd queries, tolerance on and off; clean queries off.
    if (withTyposSection) {
      const typos = withTypos(queries, seed);
      console.log(
        `\ntypos: ${typos.changed} of ${queries.length} queries with one edit (e.g. "${typos.queries.find((q, i) => q.text !== queries[i]!.text)?.text}")`,
      );
      console.log(`${'queries / mode'.padEnd(28)} ${'P@10'.padStart(8)} ${'nDCG@10'.padStart(8)} ${'MRR@10'.padStart(8)}`);
      const ratio = SEARCH_TUNING.typoRatio;
      for (const [label, qs, r] of [
        ['typos, tolerance on', typos.queries, ratio],
        ['typos, tolerance off', typos.queries, 0],
        ['clean, tolerance on', queries, ratio],
        ['clean, tolerance off', queries, 0],
      ] as const) {
        SEARCH_TUNING.typoRatio = r;
        for (const mode of ['keyword', 'hybrid'] as const) {
          const { metrics } = await evaluate(search, qs, mode, labelByDoc, labelCounts);
          console.log(`${`${label}, ${mode}`.padEnd(28)} ${fmt(metrics)}`);
        }
      }
      SEARCH_TUNING.typoRatio = ratio;
    }

    // Queries unrelated to banking: how many hits each returns (of at most 100).
    const offTopic = ['zebra crossing', 'printer on fire', 'recipe for chocolate cake', 'my cat is sick', 'guitar lessons for beginners', 'elephant'];
    const offCounts = [];
    for (const q of offTopic) offCounts.push(`${q} ${(await rankIds(search, q, 'hybrid', 100)).length}`);
    console.log(`\noff-topic hybrid hits (max 100): ${offCounts.join('; ')}`);
    const sample = await search.search(principal, { query: queries[0]!.text, limit: 3 });
    console.log(
      `example: "${queries[0]!.text}" -> ${sample.data.map((h) => `${h.score.toFixed(3)} ${JSON.stringify(h.ticket.subject.slice(0, 40))}`).join(' | ')}`,
    );
  } finally {
    if (!jobsStopped) await stopJobs();
    await runtime.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
