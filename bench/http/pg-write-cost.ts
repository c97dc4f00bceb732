/**
 * What PostgreSQL does for one write of a request path, on a seeded database: runs `--count`
 * creates, replies or PATCHes through the ticket service (token authentication first, 24 at once,
 * as the routes would under load) and prints per write the WAL records, full-page images and WAL
 * bytes (pg_stat_wal), the blocks found in and outside `shared_buffers` (pg_stat_database), and
 * the tables whose blocks came from outside (pg_statio_user_tables). The counts are what grows with
 * the data when the statements do not (docs/benchmarks.md, "PostgreSQL writes from 10k to 100k").
 *
 * It writes into the database it is given: run it on a copy of a kept seed, right after a
 * checkpoint so that both sizes start alike.
 *
 *   createdb -h 127.0.0.1 -U postgres -T nexus_bench_seed_100000_nexus copy_100k
 *   psql -h 127.0.0.1 -U postgres -d copy_100k -c checkpoint
 *   node --import tsx bench/http/pg-write-cost.ts --data-dir <seed>/n100000/nexus-data --ids <seed>/n100000/product.ids \
 *     --database-url postgres://postgres@127.0.0.1:5432/copy_100k [--path create|reply|patch] [--count 2000]
 *
 * The counters are the server's, not the database's alone: keep other writers off the server.
 * For the WAL by record type, give `pg_waldump --stats=record` the LSNs it prints.
 */
import fs from 'node:fs';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { loadConfig } from '../../src/config.js';
import type { Database } from '../../src/db/schema.js';
import { createServices } from '../../src/services.js';
import { systemClock } from '../../src/shared/clock.js';
import { loadSecretBox } from '../../src/shared/secret-box.js';
import { ticketGenerator } from './data.js';
import { option } from '../cli-option.js';
import { type WritePath, isWritePath, serviceWrite } from './service-writes.js';

const dataDir = option('data-dir');
const databaseUrl = option('database-url');
const pathOption = option('path', 'create');
if (!isWritePath(pathOption)) throw new Error('--path is create, reply or patch');
const path: WritePath = pathOption;
const count = Number(option('count', '2000'));
const CLIENTS = 24;
/** Writes before the counted ones: the statements prepared, the pool's connections open. */
const WARMUP = 200;

const seeded = fs
  .readFileSync(option('ids'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => l.split(' ') as [string, string, string]);
const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: databaseUrl, max: 10 }) }) });
const counters = new pg.Client({ connectionString: databaseUrl });
await counters.connect();
const config = loadConfig({ ...process.env, NEXUS_DATA_DIR: dataDir, NEXUS_LOG_LEVEL: 'silent', DATABASE_URL: databaseUrl });
const services = createServices({ db, dialect: 'postgres', clock: systemClock, config, secretBox: loadSecretBox(config) });
const gen = ticketGenerator(0x5eed);

/** The i-th write: a seeded ticket picked by a stride through the sample, as random as the bench's. */
async function write(i: number): Promise<void> {
  const [id, token, brand] = seeded[(i * 7919) % seeded.length]!;
  await serviceWrite(services, gen, path, i, await services.tokens.authenticate(token), id, brand);
}

async function writes(n: number, from: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < n) await write(from + next++);
    }),
  );
}

interface Counters {
  lsn: string;
  wal: { records: number; fpi: number; bytes: number };
  blocks: { read: number; hit: number; commits: number };
  tables: Map<string, { read: number; hit: number }>;
}

async function readCounters(): Promise<Counters> {
  const num = (v: unknown) => Number(v ?? 0);
  const lsn = (await counters.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')).rows[0]!.lsn;
  const w = (await counters.query('select wal_records, wal_fpi, wal_bytes from pg_stat_wal')).rows[0];
  const d = (await counters.query('select blks_read, blks_hit, xact_commit from pg_stat_database where datname = current_database()')).rows[0];
  const t = await counters.query(
    `select relname, heap_blks_read + coalesce(idx_blks_read, 0) + coalesce(toast_blks_read, 0) as read,
            heap_blks_hit + coalesce(idx_blks_hit, 0) + coalesce(toast_blks_hit, 0) as hit
     from pg_statio_user_tables`,
  );
  return {
    lsn,
    wal: { records: num(w.wal_records), fpi: num(w.wal_fpi), bytes: num(w.wal_bytes) },
    blocks: { read: num(d.blks_read), hit: num(d.blks_hit), commits: num(d.xact_commit) },
    tables: new Map(t.rows.map((r) => [r.relname as string, { read: num(r.read), hit: num(r.hit) }])),
  };
}

/** Backends publish their statistics at most once a second (PostgreSQL 15): wait for them. */
const statsPublished = () => new Promise((resolve) => setTimeout(resolve, 1500));

try {
  await writes(WARMUP, 1_000_000);
  await statsPublished();
  const before = await readCounters();
  const started = performance.now();
  await writes(count, 2_000_000);
  const seconds = (performance.now() - started) / 1000;
  await statsPublished();
  const after = await readCounters();
  const per = (a: number, b: number) => ((b - a) / count).toFixed(1);
  console.log(`${path}: ${count} writes, ${(count / seconds).toFixed(0)}/s from ${CLIENTS} clients; WAL ${before.lsn} → ${after.lsn}`);
  console.log(
    `a write: ${per(before.wal.records, after.wal.records)} WAL records, ${per(before.wal.fpi, after.wal.fpi)} full-page images, ` +
      `${per(before.wal.bytes, after.wal.bytes)} WAL bytes; blocks ${per(before.blocks.hit, after.blocks.hit)} in shared_buffers, ` +
      `${per(before.blocks.read, after.blocks.read)} from outside; ${per(before.blocks.commits, after.blocks.commits)} commits`,
  );
  const tables = [...after.tables.entries()]
    .map(([name, a]) => {
      const b = before.tables.get(name) ?? { read: 0, hit: 0 };
      return { name, read: a.read - b.read, hit: a.hit - b.hit };
    })
    .filter((t) => t.read > 0)
    .sort((x, y) => y.read - x.read);
  for (const t of tables) console.log(`  ${t.name}: ${per(0, t.read)} blocks from outside, ${per(0, t.hit)} in shared_buffers`);
} finally {
  await counters.end();
  await db.destroy();
}
