/**
 * Fills a NexusCore database for the HTTP bench through the product's own code: `openRuntime`
 * (migrations), `brands.create`, `tokens.create` (one brand-restricted tickets:read+tickets:write
 * token per brand) and the ticket service's bulk path, `tickets.createMany` (one call per brand and
 * batch, each ticket written exactly as `tickets.create` writes it) — plus, for a quarter of them, an agent
 * reply (`tickets.addMessage`) and a status change (`tickets.update`). Rows, audit entries, events
 * and search documents are exactly what the API would have written.
 *
 *   node --import tsx bench/http/seed-product.ts --tickets N --out DIR (--data-dir DIR | --database-url URL)
 *
 * Speed without changing the product:
 * - SQLite: the seeding connection runs with `synchronous=OFF` and a 256 MiB page cache (this
 *   connection only; the server opens the file with its own FULL settings), and groups
 *   `--batch` tickets (default 500) into one transaction: the services are wired to a Kysely whose
 *   driver turns each service transaction into a SAVEPOINT inside the batch's BEGIN…COMMIT, so
 *   the follow-ups keep their all-or-nothing behaviour and the data is the same as one commit each.
 * - PostgreSQL: `synchronous_commit=off` on the bench's own database while seeding (reset
 *   afterwards) and `--concurrency` batches of 50 in flight (default 8).
 * The built-in embedder's components are fitted after the first 1,000 tickets, as the server's
 * `search-maintenance` job would do.
 *
 * Last, every ticket is read once through the app (store-representations.ts), which stores its
 * JSON: the state of a server that has read each ticket once.
 *
 * Writes DIR/product.tokens ("<brand> <token>" per line), DIR/product.ids ("<ticket> <token>
 * <brand>", a random sample of the tickets for the wrk scripts) and DIR/product.seed.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely } from 'kysely';
import pg from 'pg';
import type { Principal } from '../../src/auth/scopes.js';
import { openRuntime } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import type { Database } from '../../src/db/schema.js';
import { createServices, type Services } from '../../src/services.js';
import { systemClock } from '../../src/shared/clock.js';
import { loadSecretBox } from '../../src/shared/secret-box.js';
import { storeRepresentations } from './store-representations.js';
import { BRANDS, type SeedTicket, brandId, seededRandom, ticketGenerator } from './data.js';
import { SavepointDialect } from './savepoint-dialect.js';
import { option } from '../cli-option.js';

const N = Number(option('tickets'));
const outDir = option('out');
const databaseUrl = option('database-url', '') || undefined;
const dataDir = option('data-dir', outDir);
const batch = Math.max(1, Number(option('batch', '500')));
const concurrency = Math.max(1, Number(option('concurrency', '8')));
/** SQLite only: the seeding connection's synchronous setting (OFF unless told; FULL is the server's). */
const synchronous = option('synchronous', 'off').toUpperCase();
const SAMPLE = Math.min(N, 20_000);
/** Tickets after which the embedder's components are fitted (the server's job does it at 1,000). */
const FIT_AT = 1000;

const env = { ...process.env, NEXUS_DATA_DIR: dataDir, NEXUS_LOG_LEVEL: 'silent', DATABASE_URL: databaseUrl ?? '', NEXUS_WORKERS: '0' };
const config = loadConfig(env);
const started = performance.now();

// Brands and tokens through the services, on the product's own connection settings.
const setup = await openRuntime(config);
const tokens: string[] = [];
const principals: Principal[] = [];
try {
  for (let k = 0; k < BRANDS; k++) {
    const brand = await setup.services.brands.create({ id: brandId(k), name: `Bench brand ${k}` });
    const token = await setup.services.tokens.create({ name: `bench ${brand.id}`, scopes: ['tickets:read', 'tickets:write'], brand_ids: [brand.id] });
    tokens.push(token.token);
    // What the auth hook hands the services for this token (src/auth/token-service.ts authenticate).
    principals.push({ tokenId: token.id, tokenName: token.name, scopes: token.scopes, brandIds: token.brand_ids });
  }
} finally {
  await setup.close();
}

const gen = ticketGenerator();
const sampleRand = seededRandom(0xbe7c4);
const sample: string[] = [];
let made = 0;
let lastReport = performance.now();

/**
 * Creates tickets [from, to) through the ticket service's bulk path (`createMany`, one call per
 * brand, each with that brand's token), then their follow-ups; reservoir-samples their ids.
 */
async function seedRange(services: Services, from: number, to: number): Promise<void> {
  const byBrand = new Map<number, SeedTicket[]>();
  for (let i = from; i < to; i++) {
    const seed = gen.next(i);
    const group = byBrand.get(seed.k);
    if (group) group.push(seed);
    else byBrand.set(seed.k, [seed]);
  }
  for (const [k, seeds] of byBrand) {
    const principal = principals[k]!;
    const created = await services.tickets.createMany(
      principal,
      seeds.map((s) => s.body),
    );
    for (const [j, ticket] of created.entries()) {
      const { body, followUp } = seeds[j]!;
      if (followUp) {
        await services.tickets.addMessage(principal, ticket.id, {
          author_type: 'agent',
          body: followUp.reply,
          author: { email: 'agent0@support.example.com', name: 'Agent' },
        });
        await services.tickets.update(principal, ticket.id, { status: followUp.status });
      }
      sampleTicket(`${ticket.id} ${tokens[k]} ${body.brand_id}`);
    }
  }
}

function sampleTicket(line: string): void {
  if (sample.length < SAMPLE) sample.push(line);
  else {
    const j = Math.floor(sampleRand() * (made + 1));
    if (j < SAMPLE) sample[j] = line;
  }
  made++;
  if (made % 10_000 === 0 || performance.now() - lastReport > 30_000) {
    lastReport = performance.now();
    const s = (performance.now() - started) / 1000;
    process.stderr.write(`  seeded ${made.toLocaleString('en')} / ${N.toLocaleString('en')} tickets, ${Math.round(made / s)}/s overall, ${s.toFixed(0)} s\n`);
  }
}

if (!databaseUrl) {
  const file = path.join(config.dataDir, 'nexus.sqlite');
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${synchronous === 'FULL' ? 'FULL' : synchronous === 'NORMAL' ? 'NORMAL' : 'OFF'}`);
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('cache_size = -262144');
  const db = new Kysely<Database>({ dialect: new SavepointDialect({ database: sqlite }) });
  const services = createServices({ db, dialect: 'sqlite', clock: systemClock, config, secretBox: loadSecretBox(config) });
  try {
    for (let i = 0; i < N; ) {
      const end = Math.min(N, i + batch, i < FIT_AT ? FIT_AT : N);
      sqlite.exec('begin');
      try {
        await seedRange(services, i, end);
        i = end;
        sqlite.exec('commit');
      } catch (err) {
        if (sqlite.inTransaction) sqlite.exec('rollback');
        throw err;
      }
      if (i === FIT_AT || (i === N && N < FIT_AT)) await services.search.maintain();
    }
    await services.search.maintain();
    sqlite.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    await db.destroy();
  }
} else {
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  const dbName = (await admin.query<{ db: string }>('select current_database() as db')).rows[0]!.db;
  const ident = `"${dbName.replace(/"/g, '""')}"`;
  await admin.query(`alter database ${ident} set synchronous_commit to off`);
  try {
    const runtime = await openRuntime(config);
    try {
      // Tickets are handed out in order, PG_BATCH at a time; up to `concurrency` batches are in flight at once.
      const PG_BATCH = 50;
      let next = 0;
      let fitted = false;
      const worker = async () => {
        while (next < N) {
          const i = next;
          next = Math.min(N, next + PG_BATCH);
          await seedRange(runtime.services, i, next);
          if (!fitted && made >= FIT_AT) {
            fitted = true;
            await runtime.services.search.maintain();
          }
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      await runtime.services.search.maintain();
    } finally {
      await runtime.close();
    }
  } finally {
    await admin.query(`alter database ${ident} reset synchronous_commit`);
    await admin.query('checkpoint').catch(() => {});
    await admin.end();
  }
}

const seconds = (performance.now() - started) / 1000;
// As the server leaves tickets created through the API once it had time: each one's JSON stored.
const storing = performance.now();
await storeRepresentations(loadConfig({ ...env, NEXUS_RATE_LIMIT_PER_TOKEN: '1000000000' }), (done, total) => {
  if (done % 100_000 < 1000) console.error(`seed-product: stored the JSON of ${done}/${total} tickets`);
});
const storingSeconds = (performance.now() - storing) / 1000;
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, 'product.tokens'), `${tokens.map((t, k) => `${brandId(k)} ${t}`).join('\n')}\n`);
fs.writeFileSync(path.join(outDir, 'product.ids'), `${sample.join('\n')}\n`);
const meta = {
  tickets: N,
  brands: BRANDS,
  seconds: Math.round(seconds * 10) / 10,
  per_second: Math.round(N / seconds),
  batch: databaseUrl ? null : batch,
  concurrency: databaseUrl ? concurrency : 1,
  representations_seconds: Math.round(storingSeconds * 10) / 10,
};
fs.writeFileSync(path.join(outDir, 'product.seed.json'), `${JSON.stringify(meta, null, 2)}\n`);
console.log(`seed-product: ${N.toLocaleString('en')} tickets in ${seconds.toFixed(1)} s (${meta.per_second}/s)`);
