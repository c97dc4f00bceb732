/**
 * Which SQL a request path runs and what each statement costs, on a seeded database: calls the
 * ticket service the way the routes do (token authentication first) with Kysely's query log on,
 * and prints per statement how often it ran, its mean time (Kysely's measure: prepare + run) and,
 * on SQLite, its query plan.
 *
 *   npm run bench:http -- --tickets 100000 --keep      # leaves the seeded data in $TMPDIR/nexus-bench-http-*
 *   node --import tsx bench/http/sql-profile.ts --data-dir <…/n100000/nexus-data> --ids <…/n100000/product.ids> [--requests 200] [--paths get,create]
 *
 * Creates, replies and updates run inside an outer transaction that is rolled back (the service's
 * own transactions become savepoints), so the database is left as it was and commits (fsync) are
 * not part of the figures. PostgreSQL: reads only.
 */
import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, type LogEvent, PostgresDialect } from 'kysely';
import pg from 'pg';
import { loadConfig } from '../../src/config.js';
import type { Database } from '../../src/db/schema.js';
import { createServices } from '../../src/services.js';
import { systemClock } from '../../src/shared/clock.js';
import { loadSecretBox } from '../../src/shared/secret-box.js';
import { ticketGenerator } from './data.js';
import { SavepointDialect } from './savepoint-dialect.js';
import { isWritePath, serviceWrite } from './service-writes.js';
import { option } from '../cli-option.js';

const dataDir = option('data-dir');
const databaseUrl = option('database-url', '') || undefined;
const requests = Number(option('requests', '200'));
const paths = option('paths', 'get,list,create,reply,patch').split(',');
const lines = fs
  .readFileSync(option('ids'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => l.split(' ') as [string, string, string]);

interface Stat {
  count: number;
  ms: number;
}
let stats = new Map<string, Stat>();
const log = (event: LogEvent) => {
  if (event.level !== 'query') return;
  const key = event.query.sql.replace(/\s+/g, ' ');
  const s = stats.get(key) ?? { count: 0, ms: 0 };
  s.count++;
  s.ms += event.queryDurationMillis;
  stats.set(key, s);
};

let sqlite: SqliteDatabase.Database | undefined;
const db = databaseUrl
  ? new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: databaseUrl, max: 10 }) }), log })
  : new Kysely<Database>({
      // Savepoints, so that the writes measured can be rolled back (their commits are not timed).
      dialect: new SavepointDialect({
        database: (() => {
          sqlite = new SqliteDatabase(path.join(dataDir, 'nexus.sqlite'));
          // The server's settings (src/db/open.ts).
          sqlite.pragma('journal_mode = WAL');
          sqlite.pragma('synchronous = FULL');
          sqlite.pragma('foreign_keys = ON');
          return sqlite;
        })(),
      }),
      log,
    });
const config = loadConfig({ ...process.env, NEXUS_DATA_DIR: dataDir, NEXUS_LOG_LEVEL: 'silent', DATABASE_URL: databaseUrl ?? '' });
const services = createServices({ db, dialect: databaseUrl ? 'postgres' : 'sqlite', clock: systemClock, config, secretBox: loadSecretBox(config) });
const gen = ticketGenerator(0x5eed);

/** One request of `kind`: authentication, then the service call its route makes; writes are rolled back. */
async function one(kind: string, i: number): Promise<void> {
  const [id, token, brand] = lines[i % lines.length]!;
  const principal = await services.tokens.authenticate(token);
  if (kind === 'get') await services.tickets.get(principal, id);
  else if (kind === 'list') await services.tickets.list(principal, { brand_id: brand, status: 'open', limit: 20 });
  else {
    sqlite!.exec('begin');
    try {
      if (!isWritePath(kind)) throw new Error(`unknown path ${kind}`);
      await serviceWrite(services, gen, kind, i, principal, id, brand);
    } finally {
      sqlite!.exec('rollback');
    }
  }
}

for (const kind of paths) {
  if (databaseUrl && !['get', 'list'].includes(kind)) {
    console.log(`\n(${kind}: writes are profiled on SQLite only)`);
    continue;
  }
  stats = new Map();
  for (let i = 0; i < 20; i++) await one(kind, i); // warm the statement paths
  stats = new Map();
  const t0 = performance.now();
  for (let i = 0; i < requests; i++) await one(kind, i + 20);
  const wall = performance.now() - t0;
  const total = [...stats.values()].reduce((s, x) => s + x.ms, 0);
  console.log(
    `\n### ${kind}: ${requests} requests, ${(wall / requests).toFixed(2)} ms each through the services, of which SQL ${(total / requests).toFixed(2)} ms`,
  );
  console.log('\n| statement | per request | mean ms | share of SQL | plan |\n|---|---:|---:|---:|---|');
  for (const [sqlText, s] of [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms)) {
    let plan = '';
    if (sqlite && /^select/i.test(sqlText)) {
      try {
        const params = new Array((sqlText.match(/\?/g) ?? []).length).fill('x');
        plan = (sqlite.prepare(`explain query plan ${sqlText}`).all(...params) as { detail: string }[]).map((r) => r.detail).join('; ');
      } catch {
        plan = '';
      }
    }
    const shown = sqlText.length > 160 ? `${sqlText.slice(0, 157)}…` : sqlText;
    console.log(
      `| \`${shown.replace(/\|/g, '\\|')}\` | ${(s.count / requests).toFixed(1)} | ${(s.ms / s.count).toFixed(3)} | ${((100 * s.ms) / total).toFixed(0)} % | ${plan} |`,
    );
  }
}
await db.destroy();
