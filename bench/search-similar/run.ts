/**
 * Similar-tickets bench: `npm run bench:similar -- [seed ...] [--queries 1000] [--plain]` (default seed 1).
 *
 * For each seed: a fresh database (SQLite in a temporary folder, or PostgreSQL when DATABASE_URL
 * is set); the same 70 % of Banking77 as the search-quality bench created as tickets of one brand
 * through the ticket service (subject = the text); `search.reindex()` (the components fit the
 * automatic job makes at 1,000 tickets; `--plain` skips it); then, for `--queries` tickets drawn
 * from the corpus, `search.similar()` (the code behind GET /v1/tickets/{id}/similar) at limit 5.
 * A neighbour is relevant when its intent equals the ticket's. Prints precision@1/@5/@10 (a
 * missing result counts as not relevant), the mean number of neighbours returned, the ms per
 * call, and, measured in the same run, the same for keyword-only and semantic-only rankings
 * and the chance level (a random ticket of the brand has the same intent with probability
 * (n_intent − 1) / (N − 1)); ratios of hybrid against each.
 * CSV: env BANKING77_CSV, else ../shared/data/banking77/train.csv next to the repo.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openRuntime } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import type { Principal } from '../../src/auth/scopes.js';
import type { SearchMode } from '../../src/search/service.js';
import { banking77Path, loadBanking77, seededRandom, splitDataset } from '../search-quality/dataset.js';

const args = process.argv.slice(2);
const qi = args.indexOf('--queries');
const QUERIES = qi >= 0 ? Number(args[qi + 1]) : 1000;
const plain = args.includes('--plain');
const seedArgs = args.filter((a, i) => !a.startsWith('--') && (qi < 0 || i !== qi + 1));
const seeds = seedArgs.length ? seedArgs.map(Number) : [1];
const rows = loadBanking77();
const principal: Principal = { tokenId: 'tok_bench', tokenName: 'bench', scopes: ['admin'], brandIds: null };
const CUTOFFS = [1, 5, 10] as const;

console.log(`data: ${banking77Path()} (${rows.length} rows); ${QUERIES} query tickets per seed${plain ? ', plain SIF (no components fitted)' : ''}`);
for (const seed of seeds) {
  const { documents } = splitDataset(rows, { seed, documentFraction: 0.7, queryCount: 0 });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-search-similar-'));
  const config = loadConfig({ ...process.env, NEXUS_DATA_DIR: dataDir, NEXUS_LOG_LEVEL: 'silent' });
  const runtime = await openRuntime(config);
  try {
    const { services } = runtime;
    const brand = await services.brands.create({ name: `Banking77 seed ${seed}` });
    let started = performance.now();
    const labelOf = new Map<string, string>();
    const ticketIds: string[] = [];
    for (const [i, doc] of documents.entries()) {
      const ticket = await services.tickets.create(principal, {
        brand_id: brand.id,
        subject: doc.text.trim().slice(0, 500) || '(empty)',
        customer: { email: `customer${i}@example.com` },
      });
      labelOf.set(ticket.id, doc.label);
      ticketIds.push(ticket.id);
    }
    const createMs = performance.now() - started;
    started = performance.now();
    const { refitted } = plain ? { refitted: false } : await services.search.reindex();
    const reindexMs = performance.now() - started;
    const perLabel = new Map<string, number>();
    for (const label of labelOf.values()) perLabel.set(label, (perLabel.get(label) ?? 0) + 1);

    const rand = seededRandom(seed * 7919);
    const queries = [...ticketIds].sort(() => rand() - 0.5).slice(0, QUERIES);
    console.log(
      `\nseed ${seed}: ${ticketIds.length} tickets created in ${(createMs / 1000).toFixed(1)} s, reindex ${(reindexMs / 1000).toFixed(1)} s (components refitted: ${refitted}), ${queries.length} query tickets`,
    );
    const chance = queries.reduce((s, id) => s + (perLabel.get(labelOf.get(id)!)! - 1) / (ticketIds.length - 1), 0) / queries.length;
    console.log(`${'ranking'.padEnd(10)} ${CUTOFFS.map((k) => `P@${k}`.padStart(8)).join(' ')} ${'returned@5'.padStart(10)} ${'ms/call'.padStart(8)}`);
    const results: Partial<Record<SearchMode, number[]>> = {};
    for (const mode of ['keyword', 'semantic', 'hybrid'] as const) {
      const precision: number[] = CUTOFFS.map(() => 0);
      let returned = 0;
      let calls = 0;
      const t0 = performance.now();
      for (const id of queries) {
        const label = labelOf.get(id)!;
        const { data } = await services.search.similar(principal, id, { limit: 10, mode });
        if (data.some((d) => d.ticket.id === id)) throw new Error(`${id} listed as its own neighbour`);
        CUTOFFS.forEach((k, i) => {
          precision[i]! += data.slice(0, k).filter((d) => labelOf.get(d.ticket.id) === label).length / k;
        });
        returned += Math.min(5, data.length);
        calls++;
      }
      const ms = (performance.now() - t0) / calls;
      results[mode] = precision.map((p) => p / calls);
      console.log(
        `${mode.padEnd(10)} ${results[mode].map((p) => p.toFixed(4).padStart(8)).join(' ')} ${(returned / calls).toFixed(2).padStart(10)} ${ms.toFixed(1).padStart(8)}`,
      );
    }
    console.log(`${'chance'.padEnd(10)} ${CUTOFFS.map(() => chance.toFixed(4).padStart(8)).join(' ')}`);
    const at5 = (mode: SearchMode) => results[mode]![1]!;
    console.log(
      `ratios P@5: hybrid / keyword ${(at5('hybrid') / at5('keyword')).toFixed(3)}, hybrid / semantic ${(at5('hybrid') / at5('semantic')).toFixed(3)}, hybrid / chance ${(at5('hybrid') / chance).toFixed(1)}`,
    );
  } finally {
    await runtime.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
