/**
 * Search speed bench: `npm run bench:search-speed -- <N> [queries]` (default N = 10000, 200 queries).
 *
 * Fills one brand of a fresh SQLite database (temporary folder, or NEXUS_BENCH_DIR) with N
 * synthetic tickets made from Banking77 texts (each joins two texts of one intent, with a random
 * order number and a second, agent message), in batches of 2,000 tickets per transaction through
 * the search indexer's bulk path (`indexer.ticketsChanged`, the one `nexus search reindex` uses).
 * Reports the bulk indexing rate, the cold load of the vector index, and p50/p95/p99 latency of
 * `search.search()` (the HTTP handler's whole path: ranking with feedback, ticket rows, highlights)
 * for held-out queries, hybrid with a brand filter, plus a filtered variant.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openRuntime } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import type { Principal } from '../../src/auth/scopes.js';
import { toTimestamp } from '../../src/shared/clock.js';
import { newId } from '../../src/shared/ids.js';
import { loadBanking77, seededRandom } from '../search-quality/dataset.js';

const N = Number(process.argv[2] ?? 10_000);
const QUERIES = Number(process.argv[3] ?? 200);
const BATCH = 2000;
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
const brand = await services.brands.create({ name: 'Speed' });
const other = await services.brands.create({ name: 'Other' });
const memMb = () => Math.round(process.memoryUsage().rss / 1048576);

console.log(`search speed: N = ${N.toLocaleString('en')} tickets in one brand, SQLite at ${dataDir}`);
const t0 = performance.now();
const base = Date.parse('2024-01-01T00:00:00Z');
let indexMs = 0;
for (let done = 0; done < N; ) {
  const count = Math.min(BATCH, N - done);
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
        id, brand_id: n % 50 === 49 ? other.id : brand.id, queue_id: n % 50 === 49 ? other.default_queue_id : brand.default_queue_id,
        subject, description: `${first} ${second} Order ${100000 + Math.floor(rand() * 900000)}.`,
        status: pick(STATUSES), priority: pick(PRIORITIES), priority_rank: 2, assigned_to: null, tags: '[]', origin: 'email',
        customer_email: `customer${n % 5000}@example.com`, customer_name: null, metadata: '{}', snoozed_until: null,
        first_response_at: null, version: 1, created_at: created, updated_at: created,
      });
      messages.push({ id: newId('msg', at), ticket_id: id, author_type: 'customer', author_email: null, author_name: null, body: `${first} ${second}`, cc: '[]', created_at: created });
      messages.push({ id: newId('msg', at + 1), ticket_id: id, author_type: 'agent', author_email: null, author_name: null, body: `Thanks for reaching out about ${label.replace(/_/g, ' ')}. ${pick(texts)}`, cc: '[]', created_at: created });
    }
    for (let i = 0; i < tickets.length; i += 500) await trx.insertInto('tickets').values(tickets.slice(i, i + 500)).execute();
    for (let i = 0; i < messages.length; i += 500) await trx.insertInto('messages').values(messages.slice(i, i + 500)).execute();
    const s = performance.now();
    await services.search.indexer.ticketsChanged(trx, tickets.map((t) => t.id));
    indexMs += performance.now() - s;
  });
  done += count;
  // Fit the embedder's common components early, as the automatic job does at 1,000 tickets.
  if (done === Math.min(N, 5 * BATCH)) await services.search.reindex({ refit: true });
  if (done % 50_000 === 0 || done === N) {
    const s = (performance.now() - t0) / 1000;
    process.stderr.write(`  ${done.toLocaleString('en')} tickets, ${Math.round(done / s)}/s overall, RSS ${memMb()} MB\n`);
  }
}
const fillS = (performance.now() - t0) / 1000;
console.log(`fill: ${N.toLocaleString('en')} tickets (2 messages each) in ${fillS.toFixed(1)} s = ${Math.round(N / fillS)} tickets/s including row inserts; indexing alone ${Math.round(N / (indexMs / 1000))} tickets/s`);

const coldStart = performance.now();
await services.search.search(principal, { query: 'warm up the vector index', filters: { brand_id: brand.id } });
console.log(`first search (loads ${N.toLocaleString('en')} vectors from the table): ${Math.round(performance.now() - coldStart)} ms, RSS ${memMb()} MB`);

async function measure(label: string, body: (q: string) => Parameters<typeof services.search.search>[1]): Promise<void> {
  const times: number[] = [];
  for (const q of queryRows) {
    const s = performance.now();
    await services.search.search(principal, body(q.text));
    times.push(performance.now() - s);
  }
  times.sort((a, b) => a - b);
  const p = (x: number) => times[Math.min(times.length - 1, Math.floor(x * times.length))]!.toFixed(1);
  console.log(`${label.padEnd(34)} p50 ${p(0.5).padStart(6)} ms  p95 ${p(0.95).padStart(6)} ms  p99 ${p(0.99).padStart(6)} ms  (${times.length} queries)`);
}
await measure('hybrid, brand filter, limit 20', (query) => ({ query, filters: { brand_id: brand.id }, limit: 20 }));
await measure('hybrid, brand + status filter', (query) => ({ query, filters: { brand_id: brand.id, status: 'open' }, limit: 20 }));
await measure('keyword only, brand filter', (query) => ({ query, filters: { brand_id: brand.id }, mode: 'keyword' }));
await measure('semantic only, brand filter', (query) => ({ query, filters: { brand_id: brand.id }, mode: 'semantic' }));
console.log(`RSS ${memMb()} MB`);
await runtime.close();
if (!process.env.NEXUS_BENCH_DIR) fs.rmSync(dataDir, { recursive: true, force: true });
