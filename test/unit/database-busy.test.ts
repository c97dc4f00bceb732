import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { isDatabaseBusy, isDatabaseConnectionLost } from '../../src/db/busy.js';
import { toAppError } from '../../src/http/problem.js';

test('a write refused because another connection holds the lock is a 503 with Retry-After, not a 500', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-busy-'));
  const holder = new SqliteDatabase(path.join(dir, 'db.sqlite'));
  const waiter = new SqliteDatabase(path.join(dir, 'db.sqlite'));
  t.after(() => {
    holder.close();
    waiter.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  holder.pragma('journal_mode = WAL');
  holder.exec('CREATE TABLE t (x INTEGER)');
  waiter.pragma('busy_timeout = 0');
  holder.exec('BEGIN IMMEDIATE');
  let refused: unknown;
  try {
    waiter.exec('BEGIN IMMEDIATE');
  } catch (err) {
    refused = err;
  }
  assert.ok(refused, 'the second writer must be refused while the first holds the lock');
  assert.equal(isDatabaseBusy(refused), true);
  const problem = toAppError(refused);
  assert.equal(problem.status, 503);
  assert.equal(problem.code, 'unavailable');
  assert.equal(problem.headers['Retry-After'], '1');
  holder.exec('ROLLBACK');
});

test('other errors stay 500s, unique violations are conflicts, PostgreSQL load refusals are busy', () => {
  assert.equal(toAppError(new Error('boom')).status, 500);
  assert.equal(toAppError(Object.assign(new Error('constraint'), { code: 'SQLITE_CONSTRAINT_NOTNULL' })).status, 500);
  // Two requests racing for one unique key: the loser's 409, on either dialect.
  assert.equal(toAppError(Object.assign(new Error('constraint'), { code: 'SQLITE_CONSTRAINT_UNIQUE' })).code, 'conflict');
  assert.equal(toAppError(Object.assign(new Error('duplicate key'), { code: '23505' })).status, 409);
  assert.equal(isDatabaseBusy(Object.assign(new Error('too many clients'), { code: '53300' })), true);
  assert.equal(isDatabaseBusy(null), false);
});

test('a lost PostgreSQL connection is a 503 with Retry-After, in the forms node-postgres reports it', () => {
  const lost = [
    new Error('Connection terminated unexpectedly'),
    new Error('Connection terminated'),
    new Error('Client has encountered a connection error and is not queryable'),
    Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
  ];
  for (const err of lost) {
    assert.equal(isDatabaseConnectionLost(err), true, err.message);
    const problem = toAppError(err);
    assert.equal(problem.status, 503, err.message);
    assert.equal(problem.code, 'unavailable');
    assert.equal(problem.headers['Retry-After'], '1');
  }
  // A statement error on a live connection is not a lost connection.
  assert.equal(isDatabaseConnectionLost(Object.assign(new Error('Connection terminated by a trigger'), { code: 'P0001' })), false);
  assert.equal(isDatabaseConnectionLost(new Error('syntax error')), false);
  assert.equal(isDatabaseConnectionLost(undefined), false);
});
