import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { buildApp } from '../../src/app.js';
import { openRuntime, type Runtime } from '../../src/bootstrap.js';
import { type Config, loadConfig } from '../../src/config.js';
import type { Scope } from '../../src/auth/scopes.js';
import type { App } from '../../src/http/types.js';
import { ManualClock } from '../../src/shared/clock.js';
import { enforceContract } from './contract.js';

export interface TestApp {
  app: App;
  runtime: Runtime;
  clock: ManualClock;
  config: Config;
  dataDir: string;
  adminToken: string;
  /** A fresh token with these scopes (and brand restriction). */
  token(scopes: Scope[], brandIds?: string[]): Promise<string>;
  /** inject() with a bearer token and JSON body. */
  request(opts: { method: string; url: string; token?: string | null; body?: unknown; headers?: Record<string, string> }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/**
 * With NEXUS_TEST_DATABASE_URL set (a PostgreSQL server), every test app gets a database of its own,
 * created here and dropped on close; otherwise a SQLite file in the app's temporary folder.
 */
export const testPostgresUrl = process.env.NEXUS_TEST_DATABASE_URL;

/** The PostgreSQL database of the test apps opened on this data dir, kept across their closes. */
const keptDatabaseName = (dataDir: string): string => `nexus_test_keep_${createHash('sha256').update(dataDir).digest('hex').slice(0, 16)}`;

/**
 * A database for one test app. A test that reopens the same data dir (a restart) gets the same
 * database back, kept across closes, as a restarted server would.
 */
async function createPostgresDatabase(dataDir: string | undefined): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = new pg.Client({ connectionString: testPostgresUrl });
  await admin.connect();
  const name = dataDir ? keptDatabaseName(dataDir) : `nexus_test_${randomBytes(6).toString('hex')}`;
  const exists = await admin.query('select 1 from pg_database where datname = $1', [name]);
  if (exists.rowCount === 0) await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(testPostgresUrl!);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      if (dataDir) return;
      const c = new pg.Client({ connectionString: testPostgresUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export interface TestAppOptions {
  /** Configuration, as environment variables would give it, over the test defaults. */
  env?: Record<string, string>;
  /** A data dir to open (a restart); it and its PostgreSQL database are then kept on close. */
  dataDir?: string;
  clock?: ManualClock;
}

/**
 * The real app over a real database (a SQLite file in a temporary folder, or a fresh PostgreSQL
 * database), with a clock the test controls. `env` overrides configuration as environment variables would.
 * Whoever calls this closes the app; a test that makes an app for itself calls build(t) instead.
 */
export async function buildTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-test-'));
  const postgres = testPostgresUrl ? await createPostgresDatabase(options.dataDir) : undefined;
  const config = loadConfig({
    NEXUS_DATA_DIR: dataDir,
    NEXUS_WEBHOOK_ALLOW_PRIVATE: '1',
    // inject() sends everything from 127.0.0.1, fast: limits no test meets unless it sets its own.
    NEXUS_RATE_LIMIT_PER_TOKEN: '1000000',
    NEXUS_RATE_LIMIT_PER_ADDRESS: '1000000',
    NEXUS_RATE_LIMIT_AUTH_FAILURES: '1000000',
    ...(postgres ? { DATABASE_URL: postgres.url } : {}),
    ...options.env,
  });
  const clock = options.clock ?? new ManualClock('2026-01-15T10:00:00Z');
  // Metrics as a server collects them: only with NEXUS_METRICS_TOKEN or NEXUS_METRICS_PORT in `env`.
  const runtime = await openRuntime(config, clock, { metrics: true });
  const app = await buildApp({ db: runtime.db, clock, config, services: runtime.services, secretBox: runtime.secretBox, metrics: runtime.metrics });
  const contract = enforceContract(app);
  const admin = await runtime.services.tokens.create({ name: 'test admin', scopes: ['admin'] });
  const request: TestApp['request'] = ({ method, url, token, body, headers }) => {
    const h: Record<string, string> = { ...headers };
    const bearer = token === undefined ? admin.token : token;
    if (bearer) h.authorization = `Bearer ${bearer}`;
    return app.inject({ method: method as 'GET', url, headers: h, ...(body !== undefined ? { payload: body as object } : {}) });
  };
  return {
    app,
    runtime,
    clock,
    config,
    dataDir,
    adminToken: admin.token,
    token: async (scopes, brandIds) => (await runtime.services.tokens.create({ name: `test ${scopes.join(' ')}`, scopes, brand_ids: brandIds ?? null })).token,
    request,
    async close() {
      await app.close();
      await runtime.close();
      await postgres?.drop();
      if (!options.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
      contract.assertNoViolations();
    },
  };
}

/**
 * A test's own app: buildTestApp, closed when the test ends, passed or failed (`t.after`), the way
 * fastify/demo's `build(t)` is. Closing also checks that every answer kept to the OpenAPI document.
 * Teardown hooks run in the order they were added, so one added after this call runs after the close.
 */
export async function build(t: Pick<TestContext, 'after'>, options: TestAppOptions = {}): Promise<TestApp> {
  const app = await buildTestApp(options);
  t.after(() => app.close());
  return app;
}

/**
 * Removes a data dir that test apps were opened on by path (a restart, several processes), once every
 * app on it is closed: the folder and, on PostgreSQL, the database kept for it.
 */
export async function removeDataDir(dataDir: string): Promise<void> {
  fs.rmSync(dataDir, { recursive: true, force: true });
  if (!testPostgresUrl) return;
  const admin = new pg.Client({ connectionString: testPostgresUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${keptDatabaseName(dataDir)} with (force)`);
  } finally {
    await admin.end();
  }
}
