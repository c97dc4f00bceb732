/**
 * What erasing a customer costs on a large brand (POST /v1/customers/{id}/erase): seeds `--tickets`
 * tickets of one brand (bulk create, the seeding path) plus a few of one person with replies, then
 * times a dry run (the scans alone), the erasure (scans, writes, FTS5 `optimize`, WAL checkpoint)
 * and an FTS5 `optimize` alone on the same index. SQLite only. Not part of npm test.
 *
 *   npm run bench:erasure [-- --tickets 100000]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { openRuntime } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import type { CreateTicketInput } from '../../src/tickets/service.js';

const { values } = parseArgs({ options: { tickets: { type: 'string' }, batch: { type: 'string' } } });
const TICKETS = Number(values.tickets ?? 100_000);
const BATCH = Number(values.batch ?? 1000);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-bench-erasure-'));
const runtime = await openRuntime(loadConfig({ NEXUS_DATA_DIR: dir, NEXUS_LOG_LEVEL: 'silent' }));
const ms = (start: number) => Math.round(performance.now() - start);
try {
  const admin = { tokenId: 'tok_bench', tokenName: 'bench', scopes: ['admin' as const], brandIds: null };
  const brand = await runtime.services.brands.create({ name: 'Bench' });
  const { tickets, customers } = runtime.services;
  const seedStart = performance.now();
  for (let n = 0; n < TICKETS; n += BATCH) {
    const inputs: CreateTicketInput[] = Array.from({ length: Math.min(BATCH, TICKETS - n) }, (_, k) => {
      const i = n + k;
      return {
        brand_id: brand.id,
        subject: `Order ${i} did not arrive`,
        description: `Customer ${i % 5000} asks where order ${i} is; the parcel was sent on day ${i % 365}`,
        customer: { email: `customer${i % 5000}@example.com`, name: `Customer ${i % 5000}` },
      };
    });
    await tickets.createMany(admin, inputs);
  }
  const seedMs = ms(seedStart);
  const person = { email: 'zebulon.quixworth@example.org', name: 'Zebulon Quixworthy' };
  for (let i = 0; i < 5; i++) {
    const t = await tickets.create(admin, { brand_id: brand.id, subject: `Refund ${i}`, description: `From ${person.name}`, customer: person });
    await tickets.addMessage(admin, t.id, { author_type: 'agent', body: `Hello ${person.name}, we wrote to ${person.email}` });
  }
  const row = (await customers.list(admin, { brand_id: brand.id, email: person.email, limit: 1 })).data[0]!;
  const file = path.join(dir, 'nexus.sqlite');
  const mb = (f: string) => (fs.existsSync(f) ? Math.round(fs.statSync(f).size / 1e5) / 10 : 0);
  console.log(`seeded ${TICKETS} tickets in ${Math.round(seedMs / 1000)} s; database ${mb(file)} MB + WAL ${mb(`${file}-wal`)} MB`);

  let start = performance.now();
  const dry = await customers.erase(admin, row.id, { dryRun: true });
  console.log(`dry run (scans only): ${ms(start)} ms, counts ${JSON.stringify(dry.counts)}`);
  start = performance.now();
  const done = await customers.erase(admin, row.id, { dryRun: false });
  console.log(`erasure (scans, writes, FTS5 optimize, checkpoint): ${ms(start)} ms, counts ${JSON.stringify(done.counts)}`);
  start = performance.now();
  await sql`insert into search_fts (search_fts) values ('optimize')`.execute(runtime.db);
  console.log(`FTS5 optimize alone, right after (index already merged): ${ms(start)} ms`);
  // A few more writes leave new small segments, as a live server would between erasures.
  for (let i = 0; i < 50; i++)
    await tickets.create(admin, { brand_id: brand.id, subject: `Late ${i}`, description: 'Another one', customer: { email: `late${i}@example.com` } });
  start = performance.now();
  await sql`insert into search_fts (search_fts) values ('optimize')`.execute(runtime.db);
  console.log(`FTS5 optimize after 50 more tickets: ${ms(start)} ms`);
} finally {
  await runtime.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
