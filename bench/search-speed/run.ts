/**
 * Search speed bench: `npm run bench:search-speed -- <N> [<N> ...] [--queries 200] [--reuse]`
 * (default N = 10000; e.g. `-- 10000 100000 1000000`).
 *
 * `--reuse` with NEXUS_BENCH_DIR: when that folder already holds this bench's database with
 * exactly the largest N tickets (a previous run with the same NEXUS_BENCH_DIR), nothing is seeded
 * and only that N is measured (seeding 1M tickets takes minutes; the data is seeded from fixed
 * random seeds, so it is the same as a fresh run's).
 *
 * Fills one brand of a fresh SQLite database (temporary folder, or NEXUS_BENCH_DIR) with synthetic
 * tickets made from Banking77 texts (each joins two texts of one intent, with a random order
 * number and a second, agent message; every 50th ticket goes to a second brand), in batches of
 * 2,000 tickets per transaction through the search indexer's bulk path
 * (`indexer.ticketsChanged`, the one `nexus search reindex` uses). At each N it opens a *fresh*
 * search service (an empty process cache) and reports the cold load of the in-process indexes
 * (first search), the RSS, and p50/p95/p99 latency of `search.search()` (the HTTP handler's
 * whole path: ranking with feedback, ticket rows, highlights) for held-out queries: hybrid with a
 * brand filter, with a status filter too, keyword-only and semantic-only, plus the previous
 * keyword path (FTS5 bm25 in SQL) as an in-run baseline.
 * Ratios printed: each N against the first N of the run; hybrid against keyword-/semantic-only;
 * in-process keyword against FTS5 SQL.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { openRuntime } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import type { Principal } from '../../src/auth/scopes.js';
import { toTimestamp } from '../../src/shared/clock.js';
import { newId } from '../../src/shared/ids.js';
import { cursorCodecFor } from '../../src/http/cursor-key.js';
import { createSearchService, type SearchService } from '../../src/search/service.js';
import { sqliteKeywordIndex } from '../../src/search/keyword-sqlite.js';
import { queryTerms } from '../../src/search/store.js';
import { loadBanking77, seededRandom } from '../search-quality/dataset.js';
import { measureSemanticRecall } from './semantic-recall.js';

const args = process.argv.slice(2);
const qi = args.indexOf('--queries');
const QUERIES = qi >= 0 ? Number(args[qi + 1]) : 200;
const REUSE = args.includes('--reuse');
const Ns = args.filter((a, i) => !a.startsWith('--') && (qi < 0 || i !== qi + 1)).map(Number);
if (Ns.length === 0) Ns.push(10_000);
Ns.sort((a, b) => a - b);
const N = Ns[Ns.length - 1]!;
const BATCH = 2000;
/** Queries timed on the old FTS5 SQL path (it is slow at 1M). */
const FTS_QUERIES = Math.min(QUERIES, 50);
const principal: Principal = { tokenId: 'tok_bench', tokenName: 'bench', scopes: ['admin'], brandIds: null };

const rows = loadBanking77();
const rand = seededRandom(42);
const shuffled = [...rows].sort(() => rand() - 0.5);
const queryRows = shuffled.slice(0, QUERIES);
const sourceRows = shuffled.slice(QUERIES);
const byLabel = new Map<string, string[]>();
for (const r of sourceRows) byLabel.set(r.label, [...(byLabel.get(r.label) ?? []), r.text]);
const labels = [...byLabel.keys()];
const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
const STATUSES = ['open', 'pending', 'resolved', 'snoozed'];
const PRIORITIES = ['low', 'normal', 'high', 'urgent'];

const dataDir = process.env.NEXUS_BENCH_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-search-speed-'));
const config = loadConfig({ ...process.env, NEXUS_DATA_DIR: dataDir, NEXUS_LOG_LEVEL: 'silent', DATABASE_URL: '' });
const runtime = await openRuntime(config);
const { db, services } = runtime;
/** A reused database (`--reuse`): its brands, when it holds exactly N tickets of this bench. */
async function reusedBrands() {
  if (!REUSE || !process.env.NEXUS_BENCH_DIR) return null;
  const named = await services.brands.list(null);
  const speed = named.find((b) => b.name === 'Speed');
  const otherBrand = named.find((b) => b.name === 'Other');
  if (!speed || !otherBrand) return null;
  const { n } = await db
    .selectFrom('tickets')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(n) === N ? { brand: speed, other: otherBrand } : null;
}
const reused = await reusedBrands();
if (REUSE && !reused) console.log('--reuse: no database of exactly N tickets in NEXUS_BENCH_DIR; seeding');
const brand = reused?.brand ?? (await services.brands.create({ name: 'Speed' }));
const other = reused?.other ?? (await services.brands.create({ name: 'Other' }));
const memMb = () => Math.round(process.memoryUsage().rss / 1048576);
const gc = (globalThis as { gc?: () => void }).gc;

console.log(`search speed: N = ${Ns.map((n) => n.toLocaleString('en')).join(', ')} tickets (98 % in one brand), ${QUERIES} queries, SQLite at ${dataDir}`);
console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
const t0 = performance.now();
const base = Date.parse('2024-01-01T00:00:00Z');
let indexMs = 0;
let measureMs = 0;
const reports: Report[] = [];
if (reused) {
  console.log(`\n== N = ${N.toLocaleString('en')} (reused database: not seeded in this run)`);
  reports.push(await measureAt(N, 0));
}
for (let done = reused ? N : 0; done < N; ) {
  const next = Ns.find((n) => n > done)!;
  const count = Math.min(BATCH, next - done);
  await db.transaction().execute(async (trx) => {
    const tickets = [];
    const messages = [];
    for (let i = 0; i < count; i++) {
      const n = done + i;
      const at = base + n * 1000;
      const label = pick(labels);
      const texts = byLabel.get(label)!;
      const first = pick(texts);
      const second = pick(texts);
      const id = newId('tick', at);
      const created = toTimestamp(new Date(at));
      const subject = first.length > 120 ? `${first.slice(0, 117)}...` : first;
      tickets.push({
        id,
        brand_id: n % 50 === 49 ? other.id : brand.id,
        queue_id: n % 50 === 49 ? other.default_queue_id : brand.default_queue_id,
        subject,
        description: `${first} ${second} Order ${100000 + Math.floor(rand() * 900000)}.`,
        status: pick(STATUSES),
        priority: pick(PRIORITIES),
        priority_rank: 2,
        assigned_to: null,
        tags: '[]',
        origin: 'email',
        customer_email: `customer${n % 5000}@example.com`,
        customer_name: null,
        metadata: '{}',
        snoozed_until: null,
        first_response_at: null,
        version: 1,
        queue_seq: n + 1,
        change_seq: n + 1,
        created_at: created,
        updated_at: created,
      });
      messages.push({
        id: newId('msg', at),
        ticket_id: id,
        author_type: 'customer',
        author_email: null,
        author_name: null,
        body: `${first} ${second}`,
        cc: '[]',
        created_at: created,
      });
      messages.push({
        id: newId('msg', at + 1),
        ticket_id: id,
        author_type: 'agent',
        author_email: null,
        author_name: null,
        body: `Thanks for reaching out about ${label.replace(/_/g, ' ')}. ${pick(texts)}`,
        cc: '[]',
        created_at: created,
      });
    }
    for (let i = 0; i < tickets.length; i += 500)
      await trx
        .insertInto('tickets')
        .values(tickets.slice(i, i + 500))
        .execute();
    for (let i = 0; i < messages.length; i += 500)
      await trx
        .insertInto('messages')
        .values(messages.slice(i, i + 500))
        .execute();
    const s = performance.now();
    await services.search.indexer.ticketsChanged(
      trx,
      tickets.map((t) => t.id),
    );
    indexMs += performance.now() - s;
  });
  done += count;
  // Fit the embedder's common components early, as the automatic job does at 1,000 tickets.
  if (done === Math.min(Ns[0]!, 5 * BATCH)) await services.search.reindex({ refit: true });
  if (done % 50_000 === 0 || Ns.includes(done)) {
    const s = (performance.now() - t0) / 1000;
    process.stderr.write(`  ${done.toLocaleString('en')} tickets, ${Math.round(done / s)}/s overall, RSS ${memMb()} MB\n`);
  }
  if (Ns.includes(done)) {
    const fillS = (performance.now() - t0 - measureMs) / 1000;
    console.log(`\n== N = ${done.toLocaleString('en')}`);
    console.log(
      `fill: ${done.toLocaleString('en')} tickets (2 messages each) in ${fillS.toFixed(1)} s = ${Math.round(done / fillS)} tickets/s including row inserts; indexing alone ${Math.round(done / (indexMs / 1000))} tickets/s`,
    );
    const m0 = performance.now();
    reports.push(await measureAt(done, Math.round(done / (indexMs / 1000))));
    measureMs += performance.now() - m0;
  }
}

console.log(`\n== summary (ratios against N = ${reports[0]!.n.toLocaleString('en')}, measured in this run)`);
console.log(
  `${'N'.padStart(10)} ${'N ratio'.padStart(8)} ${'index/s'.padStart(8)} ${'cold ms'.padStart(8)} ${'RSS MB'.padStart(7)} ${'hyb p50'.padStart(8)} ${'hyb p95'.padStart(8)} ${'p50 ratio'.padStart(9)} ${'p95 ratio'.padStart(9)} ${'kw p95'.padStart(7)} ${'sem p95'.padStart(7)} ${'filt p95'.padStart(8)} ${'fts p95'.padStart(8)} ${'sem recall'.padStart(10)}`,
);
const base0 = reports[0]!;
for (const rep of reports) {
  const h = rep.rows['hybrid, brand filter, limit 20']!;
  const h0 = base0.rows['hybrid, brand filter, limit 20']!;
  const f = (x: number) => x.toFixed(1);
  console.log(
    `${rep.n.toLocaleString('en').padStart(10)} ${`${rep.n / base0.n}×`.padStart(8)} ${String(rep.indexRate).padStart(8)} ${String(Math.round(rep.coldMs)).padStart(8)} ${String(rep.rss).padStart(7)} ${f(h.p50).padStart(8)} ${f(h.p95).padStart(8)} ${`${(h.p50 / h0.p50).toFixed(2)}×`.padStart(9)} ${`${(h.p95 / h0.p95).toFixed(2)}×`.padStart(9)} ${f(rep.rows['keyword only, brand filter']!.p95).padStart(7)} ${f(rep.rows['semantic only, brand filter']!.p95).padStart(7)} ${f(rep.rows['hybrid, brand + status filter']!.p95).padStart(8)} ${f(rep.rows['old path: FTS5 bm25 SQL, top 100']!.p95).padStart(8)} ${rep.semanticRecall.toFixed(4).padStart(10)}`,
  );
}
await runtime.close();
if (!process.env.NEXUS_BENCH_DIR) fs.rmSync(dataDir, { recursive: true, force: true });

interface Report {
  n: number;
  indexRate: number;
  coldMs: number;
  rss: number;
  rows: Record<string, { p50: number; p95: number; p99: number }>;
  semanticRecall: number;
}

async function measureAt(n: number, indexRate: number): Promise<Report> {
  gc?.();
  const before = memMb();
  // A fresh service: its in-process indexes start empty, as in a newly started server.
  const search: SearchService = createSearchService({
    db,
    dialect: runtime.dialect,
    clock: runtime.clock,
    embedder: { cacheDir: config.embeddingsCacheDir },
    cursors: cursorCodecFor({ db, clock: runtime.clock, secretBox: runtime.secretBox }),
  });
  const coldStart = performance.now();
  await search.search(principal, { query: 'warm up the indexes', filters: { brand_id: brand.id } });
  const coldMs = performance.now() - coldStart;
  gc?.();
  const rss = memMb();
  console.log(
    `first search (loads ${n.toLocaleString('en')} documents' text and vectors from the tables): ${Math.round(coldMs)} ms, RSS ${rss} MB (${rss - before >= 0 ? '+' : ''}${rss - before} MB against before the load: indexes and model)`,
  );
  const rows: Report['rows'] = {};
  let semanticRecall = 1;
  // Wall time, and the process's CPU time (user + system): a search is one synchronous stretch
  // of JS and SQLite calls, so on a machine busy with other work its CPU time stays close to
  // what it takes on an idle core while the wall time also counts the wait for a core.
  const time = async (label: string, count: number, run: (q: string) => Promise<unknown>) => {
    const times: number[] = [];
    const cpu: number[] = [];
    for (const q of queryRows.slice(0, count)) {
      const c = process.cpuUsage();
      const s = performance.now();
      await run(q.text);
      times.push(performance.now() - s);
      const used = process.cpuUsage(c);
      cpu.push((used.user + used.system) / 1000);
    }
    times.sort((a, b) => a - b);
    cpu.sort((a, b) => a - b);
    const p = (x: number, xs = times) => xs[Math.min(xs.length - 1, Math.floor(x * xs.length))]!;
    rows[label] = { p50: p(0.5), p95: p(0.95), p99: p(0.99) };
    console.log(
      `${label.padEnd(36)} p50 ${p(0.5).toFixed(1).padStart(6)} ms  p95 ${p(0.95).toFixed(1).padStart(6)} ms  p99 ${p(0.99).toFixed(1).padStart(6)} ms  CPU p50 ${p(0.5, cpu).toFixed(1).padStart(6)} p95 ${p(0.95, cpu).toFixed(1).padStart(6)} ms  (${times.length} queries)`,
    );
  };
  await time('hybrid, brand filter, limit 20', QUERIES, (query) => search.search(principal, { query, filters: { brand_id: brand.id }, limit: 20 }));
  await time('hybrid, brand + status filter', QUERIES, (query) =>
    search.search(principal, { query, filters: { brand_id: brand.id, status: 'open' }, limit: 20 }),
  );
  await time('keyword only, brand filter', QUERIES, (query) => search.search(principal, { query, filters: { brand_id: brand.id }, mode: 'keyword' }));
  await time('semantic only, brand filter', QUERIES, (query) => search.search(principal, { query, filters: { brand_id: brand.id }, mode: 'semantic' }));
  // The previous keyword path, as an in-run baseline: one FTS5 bm25 query over all terms.
  await time('old path: FTS5 bm25 SQL, top 100', FTS_QUERIES, (query) =>
    sqliteKeywordIndex.search(db, { terms: queryTerms(query), where: sql`d.brand_id = ${brand.id}`, joinTickets: false, limit: 100 }),
  );
  // The semantic first pass against an exact scan (approximate above VectorIndex.approximateFrom).
  let recall = 0;
  let approxMs = 0;
  let exactMs = 0;
  let counted = 0;
  for (const q of queryRows.slice(0, FTS_QUERIES)) {
    const m = await measureSemanticRecall(search, db, q.text, brand.id);
    if (!m) continue;
    recall += m.recall;
    approxMs += m.ms;
    exactMs += m.exactMs;
    counted++;
  }
  semanticRecall = recall / Math.max(1, counted);
  console.log(
    `semantic first pass (top 1,000): recall ${semanticRecall.toFixed(4)} vs exact scan, mean ${(approxMs / Math.max(1, counted)).toFixed(1)} ms vs exact ${(exactMs / Math.max(1, counted)).toFixed(1)} ms (${counted} queries)`,
  );
  const r = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  const h = rows['hybrid, brand filter, limit 20']!;
  const k = rows['keyword only, brand filter']!;
  const sem = rows['semantic only, brand filter']!;
  const fts = rows['old path: FTS5 bm25 SQL, top 100']!;
  console.log(
    `ratios: hybrid p95 / keyword-only p95 ${r(h.p95, k.p95)}, / semantic-only p95 ${r(h.p95, sem.p95)}; keyword-only (whole request, in-process) p95 / FTS5 SQL first pass p95 ${r(k.p95, fts.p95)}`,
  );
  console.log(`RSS ${memMb()} MB`);
  return { n, indexRate, coldMs, rss, rows, semanticRecall };
}
