import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, testPostgresUrl, type TestApp } from '../helpers/app.js';

/** Every byte the database keeps on disk (SQLite file and WAL), to look for secrets in clear. */
function databaseBytes(t: TestApp): Buffer {
  return Buffer.concat(
    fs
      .readdirSync(t.dataDir)
      .filter((f) => f.startsWith('nexus.sqlite'))
      .map((f) => fs.readFileSync(path.join(t.dataDir, f))),
  );
}

describe('no secrets in clear at rest', { skip: testPostgresUrl ? 'reads the SQLite files' : false }, () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it('a token created with an Idempotency-Key is replayed, yet its secret is not stored in clear', async () => {
    const req = { method: 'POST', url: '/v1/tokens', body: { name: 'replayable', scopes: ['tickets:read'] }, headers: { 'idempotency-key': 'tok-1' } };
    const first = await t.request(req);
    assert.equal(first.statusCode, 201);
    const secret = first.json().token as string;
    const replay = await t.request(req);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assert.equal(replay.json().token, secret);
    assert.ok(!databaseBytes(t).includes(secret));
  });

  it('webhook signing secrets are sealed in the database, created and rotated', async () => {
    const created = await t.request({ method: 'POST', url: '/v1/webhooks', body: { url: 'https://example.com/hook', events: ['*'] } });
    assert.equal(created.statusCode, 201, created.body);
    const secret = created.json().secret as string;
    assert.match(secret, /^whsec_/);
    const rotated = await t.request({ method: 'POST', url: `/v1/webhooks/${created.json().id}/rotate-secret` });
    assert.equal(rotated.statusCode, 200, rotated.body);
    const bytes = databaseBytes(t);
    assert.ok(!bytes.includes(secret));
    assert.ok(!bytes.includes(rotated.json().secret));
    assert.ok(!bytes.includes(secret.slice('whsec_'.length)));
    const keyFile = path.join(t.dataDir, 'secret-key');
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
  });
});
