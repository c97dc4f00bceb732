/**
 * Readiness (docs/operations.md, "What to watch"): /readyz fails, with a 503 problem, while the
 * database has migrations of this release still to run or the attachment store is unreachable.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_MIGRATION_TABLE, sql } from 'kysely';
import { build } from '../helpers/app.js';
import { assertProblem } from '../helpers/factories.js';

describe('GET /readyz', () => {
  it('fails while the blob store is unreachable, and recovers with it', async (ctx) => {
    const t = await build(ctx);
    assert.equal((await t.request({ method: 'GET', url: '/readyz', token: null })).statusCode, 200, 'a fresh install is ready before any upload');
    const blobs = path.join(t.dataDir, 'attachments');
    fs.rmSync(blobs, { recursive: true, force: true });
    fs.writeFileSync(blobs, 'not a folder');
    const res = await t.request({ method: 'GET', url: '/readyz', token: null });
    const problem = assertProblem(res, 503, 'unavailable');
    assert.match(problem.detail, /attachment store/);
    assert.doesNotMatch(res.body, new RegExp(t.dataDir), 'the path is logged, not shown');
    assert.equal((await t.request({ method: 'GET', url: '/healthz', token: null })).statusCode, 200, 'alive all the same');
    fs.rmSync(blobs);
    assert.equal((await t.request({ method: 'GET', url: '/readyz', token: null })).statusCode, 200);
  });

  it('fails while the database has migrations of this release still to run', async (ctx) => {
    const t = await build(ctx);
    const db = t.runtime.db;
    const table = sql.table(DEFAULT_MIGRATION_TABLE);
    const rows = (await sql<{ name: string; timestamp: string }>`select name, timestamp from ${table} order by name`.execute(db)).rows;
    const last = rows.at(-1)!;
    // As a database migrated by the previous release looks to this one.
    await sql`delete from ${table} where name = ${last.name}`.execute(db);
    const problem = assertProblem(await t.request({ method: 'GET', url: '/readyz', token: null }), 503, 'unavailable');
    assert.match(problem.detail, /1 migration\(s\) pending/);
    await sql`insert into ${table} (name, timestamp) values (${last.name}, ${last.timestamp})`.execute(db);
    assert.equal((await t.request({ method: 'GET', url: '/readyz', token: null })).statusCode, 200);
    // A migration this release does not know (a newer release ran it) does not make it unready.
    await sql`insert into ${table} (name, timestamp) values (${'9999-from-a-newer-release'}, ${last.timestamp})`.execute(db);
    assert.equal((await t.request({ method: 'GET', url: '/readyz', token: null })).statusCode, 200);
  });
});
