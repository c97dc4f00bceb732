/**
 * Where a filtered search's time goes, on a database the speed bench left behind:
 *
 *   NEXUS_BENCH_DIR=<dir of `npm run bench:search-speed -- N --reuse`> \
 *     node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/search-speed/profile-filtered.ts [--queries 100]
 *   node --import tsx bench/http/profile.ts /tmp/prof/<file>.cpuprofile
 *
 * Prints the SQLite plans (EXPLAIN QUERY PLAN) of the queries a filtered search may run (the SQL
 * filter of a list of over-fetched doc ids, the candidate listing, and the filter index's
 * catch-up read), then times hybrid searches with a status filter (the bench's "hybrid, brand +
 * status filter" row) and, as the in-run baseline, the same searches with the brand filter only,
 * by wall time and by CPU time (see `time`). Runs on the code of the checkout it is started from,
 * so the same file measures the code before and after a change.
 * Also times the vector index's first pass at k and 10k in isolation. (The SQL filter of
 * over-fetched doc ids, `store.filteredDocIds`, was removed with the filter index; its plan is
 * still printed, from the SQL it ran.)
 */
import { sql } from 'kysely';
import type { Principal } from '../../src/auth/scopes.js';
import { openRuntime } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import { cursorCodecFor } from '../../src/http/cursor-key.js';
import { createSearchService } from '../../src/search/service.js';
import { readState } from '../../src/search/store.js';
import { loadBanking77, seededRandom } from '../search-quality/dataset.js';

const args = process.argv.slice(2);
const qi = args.indexOf('--queries');
const QUERIES = qi >= 0 ? Number(args[qi + 1]) : 100;
const dataDir = process.env.NEXUS_BENCH_DIR;
if (!dataDir) throw new Error('set NEXUS_BENCH_DIR to the folder of a speed bench database');
const principal: Principal = { tokenId: 'tok_bench', tokenName: 'bench', scopes: ['admin'], brandIds: null };

const config = loadConfig({ ...process.env, NEXUS_DATA_DIR: dataDir, NEXUS_LOG_LEVEL: 'silent', DATABASE_URL: '' });
const runtime = await openRuntime(config);
const { db } = runtime;
const brand = (await runtime.services.brands.list(null)).find((b) => b.name === 'Speed');
if (!brand) throw new Error(`no bench brand in ${dataDir}`);
const rand = seededRandom(42);
const queries = [...loadBanking77()]
  .sort(() => rand() - 0.5)
  .slice(0, QUERIES)
  .map((r) => r.text);

const plan = async (label: string, query: ReturnType<typeof sql>) => {
  const { rows } = await sql<{ detail: string }>`explain query plan ${query}`.execute(db);
  console.log(`${label}:\n${rows.map((r) => `  ${r.detail}`).join('\n')}`);
};
const ids = Array.from({ length: 10_000 }, (_, i) => i * 97 + 1);
await plan(
  'SQL filter of 10,000 over-fetched doc ids (the former store.filteredDocIds with a list)',
  sql`select d.doc_id from search_documents d cross join tickets t where d.brand_id in (${brand.id}) and t.status = ${'open'} and t.id = d.ticket_id and d.doc_id in (${sql.join(ids)}) limit 10000`,
);
await plan(
  'SQL candidate listing (the former store.filteredDocIds without a list)',
  sql`select d.doc_id from search_documents d join tickets t on t.id = d.ticket_id where d.brand_id in (${brand.id}) and t.status = ${'open'} limit 50001`,
);
await plan(
  'filter index catch-up (filterFieldsSince, after)',
  sql`select d.doc_id, d.seq, d.brand_id, t.status, t.priority, t.assigned_to, t.created_at, t.tags from search_documents d left join tickets t on t.id = d.ticket_id where d.seq >= ${0} and (d.seq > ${0} or d.doc_id > ${0}) order by d.seq, d.doc_id limit 5000`,
);

const search = createSearchService({
  db,
  dialect: runtime.dialect,
  clock: runtime.clock,
  embedder: { cacheDir: config.embeddingsCacheDir },
  cursors: cursorCodecFor({ db, clock: runtime.clock, secretBox: runtime.secretBox }),
});
let t = performance.now();
await search.warmUp();
console.log(`\nwarm-up (loads every in-process index): ${Math.round(performance.now() - t)} ms`);
await search.search(principal, { query: 'warm up', filters: { brand_id: brand.id, status: 'open' } });

/**
 * Wall time and the process's CPU time (user + system) of each search. On a machine shared with
 * other work the wall time mostly measures the wait for a core; a search is one synchronous
 * stretch of JS and SQLite calls, so its CPU time is close to what it takes on an idle core.
 */
const time = async (label: string, run: (q: string) => Promise<unknown>) => {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (const q of queries) {
    const c = process.cpuUsage();
    const s = performance.now();
    await run(q);
    wall.push(performance.now() - s);
    const used = process.cpuUsage(c);
    cpu.push((used.user + used.system) / 1000);
  }
  const pct = (xs: number[], x: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(x * xs.length))]!;
  const f = (x: number) => x.toFixed(1).padStart(6);
  console.log(
    `${label.padEnd(34)} wall p50 ${f(pct(wall, 0.5))} p95 ${f(pct(wall, 0.95))} ms; CPU p50 ${f(pct(cpu, 0.5))} p95 ${f(pct(cpu, 0.95))} ms  (${wall.length} queries)`,
  );
  return { wall: pct(wall, 0.95), cpu: pct(cpu, 0.95) };
};
const plainP95 = await time('hybrid, brand filter (baseline)', (query) => search.search(principal, { query, filters: { brand_id: brand.id }, limit: 20 }));
const filteredP95 = await time('hybrid, brand + status filter', (query) =>
  search.search(principal, { query, filters: { brand_id: brand.id, status: 'open' }, limit: 20 }),
);
console.log(`ratio filtered / brand-only p95: wall ${(filteredP95.wall / plainP95.wall).toFixed(2)}×, CPU ${(filteredP95.cpu / plainP95.cpu).toFixed(2)}×`);

// The parts in isolation.
const state = await readState(db);
const embedder = await search.embedderProvider.withComponents(db, state.componentsId);
const vectors = await search.vectorIndex.catchUp(embedder.id, state.seq);
const [qv] = await embedder.embed([queries[0]!]);
if (vectors && qv) {
  for (const k of [1000, 10_000]) {
    t = performance.now();
    for (let i = 0; i < 10; i++) vectors.search(qv, [brand.id], k);
    console.log(`vector first pass, k = ${k.toLocaleString('en')}: ${((performance.now() - t) / 10).toFixed(1)} ms`);
  }
}
await runtime.close();
