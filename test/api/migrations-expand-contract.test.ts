/**
 * Several releases run on one database during a rolling upgrade: the first process of the new
 * release migrates, and the previous release's processes keep serving (and may restart) on the new
 * schema. docs/operations.md ("Upgrades and migrations") states the policy; this file checks the two
 * halves of it that a machine can check: every migration only expands the schema, and a process
 * whose migration list is older starts on the migrated database and serves the API.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { type Kysely, type Migration, Migrator, sql } from 'kysely';
import pg from 'pg';
import { buildApp } from '../../src/app.js';
import { openRuntime } from '../../src/bootstrap.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { migrations } from '../../src/db/migrations/index.js';
import { openDatabase } from '../../src/db/open.js';
import type { Database } from '../../src/db/schema.js';
import { ManualClock } from '../../src/shared/clock.js';
import { buildTestApp, removeDataDir, testPostgresUrl } from '../helpers/app.js';

/**
 * Migrations allowed to contract the schema (drop or narrow what an earlier release used), each
 * with the release after which no running code uses what it removes. Empty: none has yet.
 */
const CONTRACT_MIGRATIONS: Record<string, string> = {};

/** The migrations since the previous release, which that release's processes do not know. */
const SINCE_PREVIOUS_RELEASE = 3;

interface ColumnShape {
  type: string;
  nullable: boolean;
  hasDefault: boolean;
}
interface TableShape {
  columns: Map<string, ColumnShape>;
  /** Each unique index or constraint, by its columns. */
  uniques: Set<string>;
}

async function schemaShape(db: Kysely<Database>, dialect: 'sqlite' | 'postgres'): Promise<Map<string, TableShape>> {
  const shape = new Map<string, TableShape>();
  for (const table of await db.introspection.getTables()) {
    const columns = new Map(
      table.columns.map((c) => [c.name, { type: c.dataType.toLowerCase(), nullable: c.isNullable, hasDefault: c.hasDefaultValue || c.isAutoIncrementing }]),
    );
    shape.set(table.name, { columns, uniques: await uniqueKeys(db, dialect, table.name) });
  }
  return shape;
}

async function uniqueKeys(db: Kysely<Database>, dialect: 'sqlite' | 'postgres', table: string): Promise<Set<string>> {
  if (dialect === 'sqlite') {
    const { rows } = await sql<{ name: string; col: string }>`
      select il.name as name, ii.name as col from pragma_index_list(${table}) as il join pragma_index_info(il.name) as ii
      where il."unique" = 1 order by il.name, ii.seqno`.execute(db);
    const byIndex = new Map<string, string[]>();
    for (const r of rows) byIndex.set(r.name, [...(byIndex.get(r.name) ?? []), r.col]);
    return new Set([...byIndex.values()].map((cols) => cols.join(',')));
  }
  const { rows } = await sql<{ indexdef: string }>`select indexdef from pg_indexes where schemaname = current_schema() and tablename = ${table}`.execute(db);
  return new Set(rows.filter((r) => /^CREATE UNIQUE/.test(r.indexdef)).map((r) => /\(([^)]*)\)/.exec(r.indexdef)![1]!.replace(/\s+/g, '')));
}

/**
 * Why `after` would break a query or a write that was valid on `before`: a table or column gone, a
 * column retyped, made NOT NULL or stripped of its default; a new column an old INSERT cannot leave
 * out; a new unique key an old write may violate, or a unique key gone that an old ON CONFLICT names.
 */
function contractions(before: Map<string, TableShape>, after: Map<string, TableShape>): string[] {
  const found: string[] = [];
  for (const [table, old] of before) {
    const now = after.get(table);
    if (!now) {
      found.push(`table ${table} dropped`);
      continue;
    }
    for (const [name, col] of old.columns) {
      const c = now.columns.get(name);
      if (!c) found.push(`column ${table}.${name} dropped`);
      else {
        if (c.type !== col.type) found.push(`column ${table}.${name} retyped ${col.type} → ${c.type}`);
        if (col.nullable && !c.nullable) found.push(`column ${table}.${name} made NOT NULL`);
        if (col.hasDefault && !c.hasDefault) found.push(`column ${table}.${name} lost its default`);
      }
    }
    for (const [name, c] of now.columns) {
      if (!old.columns.has(name) && !c.nullable && !c.hasDefault) found.push(`column ${table}.${name} added NOT NULL without a default`);
    }
    for (const key of now.uniques) if (!old.uniques.has(key)) found.push(`unique key (${key}) added to ${table}`);
    for (const key of old.uniques) if (!now.uniques.has(key)) found.push(`unique key (${key}) dropped from ${table}`);
  }
  return found;
}

/** A database of its own: a SQLite file in a temporary folder, or a fresh PostgreSQL database. */
async function emptyDatabase(t: { after(fn: () => Promise<void> | void): void }) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-migrations-'));
  let databaseUrl: string | undefined;
  if (testPostgresUrl) {
    const name = `nexus_test_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: testPostgresUrl });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(testPostgresUrl);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
  }
  const opened = openDatabase({ dataDir, databaseUrl });
  t.after(async () => {
    await opened.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    if (!databaseUrl) return;
    const c = new pg.Client({ connectionString: testPostgresUrl });
    await c.connect();
    await c.query(`drop database if exists ${new URL(databaseUrl).pathname.slice(1)} with (force)`);
    await c.end();
  });
  return opened;
}

describe('upgrades: expand, then contract', () => {
  it('every migration only expands the schema, so the queries and writes of the release before it still work', async (t) => {
    const opened = await emptyDatabase(t);
    const migrator = new Migrator({ db: opened.db, provider: { getMigrations: async () => migrations } });
    let before = await schemaShape(opened.db, opened.dialect);
    const names = Object.keys(migrations).sort();
    const problems: string[] = [];
    for (const name of names) {
      const { error } = await migrator.migrateTo(name);
      assert.ifError(error);
      const after = await schemaShape(opened.db, opened.dialect);
      if (!(name in CONTRACT_MIGRATIONS)) problems.push(...contractions(before, after).map((p) => `${name}: ${p}`));
      before = after;
    }
    assert.deepEqual(problems, [], 'a contracting migration belongs in a later release than the code that stops using what it removes (docs/operations.md)');
    // The check sees what it must: a dropped column, a new NOT NULL column without default.
    const tickets = before.get('tickets')!;
    const narrowed = new Map(before);
    narrowed.set('tickets', { ...tickets, columns: new Map([...tickets.columns].filter(([n]) => n !== 'subject')) });
    assert.deepEqual(contractions(before, narrowed), ['column tickets.subject dropped']);
    const widened = new Map(before);
    widened.set('tickets', { ...tickets, columns: new Map([...tickets.columns, ['must_have', { type: 'text', nullable: false, hasDefault: false }]]) });
    assert.deepEqual(contractions(before, widened), ['column tickets.must_have added NOT NULL without a default']);
  });

  it('a process of the previous release starts on the migrated database and serves create, get, list, reply and patch', async (t) => {
    const names = Object.keys(migrations).sort();
    assert.ok(names.length > SINCE_PREVIOUS_RELEASE);
    const previousRelease: Record<string, Migration> = Object.fromEntries(names.slice(0, -SINCE_PREVIOUS_RELEASE).map((n) => [n, migrations[n]!]));
    const newer = names.slice(-SINCE_PREVIOUS_RELEASE);

    // The new release migrates the database and writes to it.
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-rolling-'));
    // Teardown hooks run in the order they are added: the database goes only after both processes
    // on it are closed (dropping it first cuts their connections mid-query).
    const closers: (() => Promise<void>)[] = [];
    t.after(async () => {
      for (const close of closers.reverse()) await close();
      await removeDataDir(dataDir);
    });
    const current = await buildTestApp({ dataDir });
    let currentOpen = true;
    closers.push(async () => {
      if (currentOpen) await current.close();
    });
    const brand = (await current.request({ method: 'POST', url: '/v1/brands', body: { name: 'Rolling' } })).json();
    const written = (
      await current.request({
        method: 'POST',
        url: '/v1/tickets',
        body: { brand_id: brand.id, subject: 'Written by the new release', customer: { email: 'a@example.com' } },
      })
    ).json();

    // Kysely's own migrator refuses a database with migrations it does not know: the reason for ours.
    const strict = await new Migrator({ db: current.runtime.db, provider: { getMigrations: async () => previousRelease } }).migrateToLatest();
    assert.match(String(strict.error), /previously executed migration .* is missing/);
    // Ours accepts every older list, runs nothing and names what is newer.
    for (let k = 1; k < names.length; k++) {
      const older = Object.fromEntries(names.slice(0, k).map((n) => [n, migrations[n]!]));
      const outcome = await migrateToLatest(current.runtime.db, older);
      assert.deepEqual(outcome.results, [], `with the first ${k} migrations nothing runs`);
      assert.deepEqual(outcome.newerApplied, names.slice(k));
    }
    // A migration the database lacks that sorts before one it has is another history: still refused.
    await assert.rejects(migrateToLatest(current.runtime.db, { ...migrations, '0000-elsewhere': migrations[names[0]!]! }), /corrupted migrations/);
    currentOpen = false;
    await current.close();

    // The previous release's process, restarted on that database.
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    t.after(() => void process.off('warning', onWarning));
    const clock = new ManualClock('2026-01-15T10:00:00Z');
    const runtime = await openRuntime(current.config, clock, { migrations: previousRelease });
    const app = await buildApp({ db: runtime.db, clock, config: current.config, services: runtime.services, secretBox: runtime.secretBox });
    closers.push(async () => {
      await app.close();
      await runtime.close();
    });
    await new Promise((resolve) => setImmediate(resolve));
    const warning = warnings.find((w) => w.name === 'NexusMigrationWarning');
    assert.ok(warning, 'the process says it runs behind the database');
    for (const name of newer) assert.ok(warning.message.includes(name));

    const token = (await runtime.services.tokens.create({ name: 'old release', scopes: ['admin'] })).token;
    const call = async (method: string, url: string, body?: unknown) => {
      const res = await app.inject({
        method: method as 'GET',
        url,
        headers: { authorization: `Bearer ${token}` },
        ...(body ? { payload: body as object } : {}),
      });
      return { status: res.statusCode, body: res.json(), raw: res.body };
    };
    const created = await call('POST', '/v1/tickets', {
      brand_id: brand.id,
      subject: 'Written by the old release',
      customer: { email: 'b@example.com' },
      priority: 'high',
    });
    assert.equal(created.status, 201, created.raw);
    const got = await call('GET', `/v1/tickets/${written.id}`);
    assert.equal(got.status, 200, got.raw);
    assert.equal(got.body.subject, 'Written by the new release');
    const listed = await call('GET', `/v1/tickets?brand_id=${brand.id}&status=open`);
    assert.equal(listed.status, 200, listed.raw);
    assert.deepEqual(listed.body.data.map((x: { id: string }) => x.id).sort(), [written.id, created.body.id].sort());
    const reply = await call('POST', `/v1/tickets/${created.body.id}/messages`, { author_type: 'agent', body: 'On it.' });
    assert.equal(reply.status, 201, reply.raw);
    const patched = await call('PATCH', `/v1/tickets/${created.body.id}`, { status: 'pending', tags: ['rolling'] });
    assert.equal(patched.status, 200, patched.raw);
    assert.equal(patched.body.status, 'pending');
    const after = await call('GET', `/v1/tickets/${created.body.id}`);
    assert.equal(after.body.messages.at(-1).body, 'On it.');
    assert.deepEqual(after.body.tags, ['rolling']);
  });
});
