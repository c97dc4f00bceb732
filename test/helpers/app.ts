import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { buildApp } from '../../src/app.js';
import { openRuntime, type Runtime } from '../../src/bootstrap.js';
import { type Config, loadConfig } from '../../src/config.js';
import type { Scope } from '../../src/auth/scopes.js';
import type { App } from '../../src/http/types.js';
import { ManualClock } from '../../src/shared/clock.js';
import { type ContractValidator, type ObservedResponse, createContractValidator } from './contract.js';

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

/**
 * A database for one test app. A test that reopens the same data dir (a restart) gets the same
 * database back, kept across closes, as a restarted server would.
 */
async function createPostgresDatabase(dataDir: string | undefined): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = new pg.Client({ connectionString: testPostgresUrl });
  await admin.connect();
  const name = dataDir
    ? `nexus_test_keep_${createHash('sha256').update(dataDir).digest('hex').slice(0, 16)}`
    : `nexus_test_${randomBytes(6).toString('hex')}`;
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

/**
 * The real app over a real database (a SQLite file in a temporary folder, or a fresh PostgreSQL
 * database), with a clock the test controls. `env` overrides configuration as environment variables would.
 */
export async function buildTestApp(options: { env?: Record<string, string>; dataDir?: string; clock?: ManualClock } = {}): Promise<TestApp> {
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-test-'));
  const postgres = testPostgresUrl ? await createPostgresDatabase(options.dataDir) : undefined;
  const config = loadConfig({
    NEXUS_DATA_DIR: dataDir,
    NEXUS_WEBHOOK_ALLOW_PRIVATE: '1',
    ...(postgres ? { DATABASE_URL: postgres.url } : {}),
    ...options.env,
  });
  const clock = options.clock ?? new ManualClock('2026-01-15T10:00:00Z');
  const runtime = await openRuntime(config, clock);
  const app = await buildApp({ db: runtime.db, clock, config, services: runtime.services });
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

const validators = new Map<string, ContractValidator>();

/**
 * Makes every test a contract test: each response of `app.inject` (and so of `request`) is checked
 * against the app's own OpenAPI document, and a mismatch fails the request that caused it. Over a
 * real listening server (`app.listen`) mismatches are collected and fail `close()`.
 */
export function enforceContract(app: App): { assertNoViolations(): void } {
  const document = JSON.stringify(app.swagger());
  let validator = validators.get(document);
  if (!validator) {
    validator = createContractValidator(JSON.parse(document) as object);
    validators.set(document, validator);
  }
  const check = validator.check;

  const inject = app.inject.bind(app);
  app.inject = ((opts?: InjectOptions | string, callback?: unknown) => {
    if (opts === undefined || callback !== undefined) return (inject as (...a: unknown[]) => unknown)(opts, callback);
    const options = typeof opts === 'string' ? { url: opts } : opts;
    return inject(opts).then((res) => {
      const url = typeof options.url === 'string' ? options.url : String(options.path ?? '');
      const violation = check({ method: options.method ?? 'GET', url, statusCode: res.statusCode, headers: res.headers, body: res.rawPayload });
      if (violation) throw new Error(`Contract broken: ${violation}`);
      return res;
    });
  }) as App['inject'];

  const violations: string[] = [];
  const KEEP = 1024 * 1024;
  app.server.prependListener('request', (req, res) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    const keep = (chunk: unknown) => {
      if (kept > KEEP || (typeof chunk !== 'string' && !Buffer.isBuffer(chunk))) return;
      const buf = Buffer.from(chunk as string);
      kept += buf.length;
      chunks.push(buf);
    };
    // Fastify passes its headers to writeHead, where getHeaders() does not see them.
    const written: Record<string, unknown> = {};
    const writeHead = res.writeHead.bind(res) as (...a: unknown[]) => typeof res;
    res.writeHead = ((...args: unknown[]) => {
      const headers = args.find((a) => a && typeof a === 'object' && !Array.isArray(a)) as Record<string, unknown> | undefined;
      for (const [name, value] of Object.entries(headers ?? {})) written[name.toLowerCase()] = value;
      return writeHead(...args);
    }) as typeof res.writeHead;
    const write = res.write.bind(res) as (...a: unknown[]) => boolean;
    const end = res.end.bind(res) as (...a: unknown[]) => typeof res;
    res.write = ((chunk: unknown, ...rest: unknown[]) => (keep(chunk), write(chunk, ...rest))) as typeof res.write;
    res.end = ((chunk?: unknown, ...rest: unknown[]) => (typeof chunk !== 'function' && chunk !== undefined && keep(chunk), end(chunk, ...rest))) as typeof res.end;
    res.on('finish', () => {
      const observed: ObservedResponse = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        statusCode: res.statusCode,
        headers: { ...res.getHeaders(), ...written },
        body: kept > KEEP ? undefined : Buffer.concat(chunks),
      };
      const violation = check(observed);
      if (violation) violations.push(violation);
    });
  });
  return {
    assertNoViolations() {
      if (violations.length) throw new Error(`Contract broken over HTTP:\n${violations.join('\n')}`);
    },
  };
}
