import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { build, testPostgresUrl } from '../helpers/app.js';

const modeOf = (file: string): string => (fs.statSync(file).mode & 0o777).toString(8).padStart(4, '0');

describe('files at rest', { skip: testPostgresUrl ? 'reads the SQLite files' : false }, () => {
  it('creates the data dir and its folders 0700, the database, key and attachment files 0600, whatever the umask', async (ctx) => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-modes-'));
    const dataDir = path.join(parent, 'var', 'nexus');
    // The most permissive umask: every mode below is then the server's own doing.
    const umask = process.umask(0o000);
    ctx.after(() => process.umask(umask));
    const t = await build(ctx, { dataDir });
    // After the app's close, registered just before.
    ctx.after(() => fs.rmSync(parent, { recursive: true, force: true }));
    const created = (await t.request({ method: 'POST', url: '/v1/attachments', body: { file_name: 'a.txt', content_type: 'text/plain' } })).json();
    const res = await t.app.inject({ method: 'PUT', url: new URL(created.upload_url).pathname, headers: { 'content-type': 'text/plain' }, payload: 'hello' });
    assert.equal(res.statusCode, 200, res.body);
    const { storage_key: key } = await t.runtime.db.selectFrom('attachments').select('storage_key').where('id', '=', created.id).executeTakeFirstOrThrow();

    const expected: Record<string, string> = {
      [path.join(parent, 'var')]: '0700',
      [dataDir]: '0700',
      [path.join(dataDir, 'nexus.sqlite')]: '0600',
      [path.join(dataDir, 'nexus.sqlite-wal')]: '0600',
      [path.join(dataDir, 'nexus.sqlite-shm')]: '0600',
      [path.join(dataDir, 'secret-key')]: '0600',
      [path.join(dataDir, 'attachments')]: '0700',
      [path.join(dataDir, 'attachments', 'tmp')]: '0700',
      [path.join(dataDir, 'attachments', key!.slice(-2))]: '0700',
      [path.join(dataDir, 'attachments', key!.slice(-2), key!)]: '0600',
    };
    const actual = Object.fromEntries(Object.keys(expected).map((f) => [f, modeOf(f)]));
    assert.deepEqual(actual, expected);
    // Nothing else in the data dir is readable by others either.
    for (const entry of fs.readdirSync(dataDir, { recursive: true }) as string[]) {
      assert.equal(fs.statSync(path.join(dataDir, entry)).mode & 0o077, 0, `${entry} is ${modeOf(path.join(dataDir, entry))}`);
    }
  });

  it('leaves the mode of a data dir that already exists alone', async (ctx) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-modes-existing-'));
    fs.chmodSync(dataDir, 0o750);
    await build(ctx, { dataDir });
    ctx.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    assert.equal(modeOf(dataDir), '0750');
    assert.equal(modeOf(path.join(dataDir, 'nexus.sqlite')), '0600', 'a database file it creates is still private');
  });
});
