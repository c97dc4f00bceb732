/**
 * `nexus backup` and `nexus restore` on the embedded SQLite database, run as an operator runs them:
 * the backup is taken from a real server while clients keep creating tickets, restored into a fresh
 * data dir, and a server started on it finds every ticket acknowledged before the backup began.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { runRestore } from '../../src/cli/backup.js';
import { main } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config.js';
import { integrityCheck } from '../../src/db/backup.js';
import { testPostgresUrl } from '../helpers/app.js';
import { ROOT, startServer } from '../helpers/server-process.js';

type Cleanup = (fn: () => Promise<void> | void) => void;

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `nexus <args>` as its own process, the way an operator (or cron) does; killed at cleanup if still running. */
function runNexus(cleanup: Cleanup, args: string[], env: Record<string, string>): Promise<CliRun> {
  const child: ChildProcess = spawn(process.execPath, ['bin/nexus.js', ...args], {
    cwd: ROOT,
    env: { ...process.env, NEXUS_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  cleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe('backup and restore', { skip: testPostgresUrl ? 'the SQLite backup; PostgreSQL is backed up with pg_dump (docs/operations.md)' : false }, () => {
  it('a backup taken under write load restores every acknowledged ticket, its attachment bytes and its tokens', async (t) => {
    const cleanup: Cleanup = t.after.bind(t);
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-backup-'));
    t.after(() => fs.rmSync(scratch, { recursive: true, force: true }));
    const liveDir = path.join(scratch, 'live');
    const restoredDir = path.join(scratch, 'restored');
    const backupFile = path.join(scratch, 'nexus-backup.sqlite');

    const live = await startServer(cleanup, { NEXUS_DATA_DIR: liveDir, NEXUS_RATE_LIMIT: 'off' });
    const token = fs.readFileSync(path.join(liveDir, 'admin-token'), 'utf8').trim();
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const post = (base: string, url: string, body: unknown) => fetch(`${base}${url}`, { method: 'POST', headers, body: JSON.stringify(body) });
    const brand = (await (await post(live.base, '/v1/brands', { name: 'Backed up' })).json()) as { id: string };

    // An attachment with its bytes on disk, which the restore must bring back.
    const bytes = randomBytes(64 * 1024);
    const attachment = (await (
      await post(live.base, '/v1/attachments', { file_name: 'receipt.bin', content_type: 'application/octet-stream', size: bytes.length, brand_id: brand.id })
    ).json()) as {
      id: string;
      upload_url: string;
    };
    const put = await fetch(attachment.upload_url, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    assert.equal(put.status, 200, await put.text());

    // A long read on the live database (a report, say), open throughout: the server's checkpoints cannot
    // copy into the database file what was committed after it began, so those commits stay in the WAL,
    // where only a backup that reads through SQLite finds them.
    const longRead = new SqliteDatabase(path.join(liveDir, 'nexus.sqlite'), { readonly: true, fileMustExist: true });
    t.after(() => longRead.close());
    longRead.exec('BEGIN');
    longRead.prepare('SELECT count(*) FROM tickets').get();

    // Clients creating tickets, four at a time, until told to stop; each acknowledged id is kept in order.
    const acknowledged: string[] = [];
    let writing = true;
    let reached: () => void = () => {};
    const enough = new Promise<void>((resolve) => (reached = resolve));
    const writer = async (n: number) => {
      for (let i = 0; writing; i++) {
        const res = await post(live.base, '/v1/tickets', { brand_id: brand.id, subject: `writer ${n} ticket ${i}`, customer: { email: 'load@example.com' } });
        if (res.status !== 201) throw new Error(`a create under load failed: ${res.status} ${await res.text()}`);
        acknowledged.push(((await res.json()) as { id: string }).id);
        if (acknowledged.length >= 100) reached();
      }
    };
    const writers = [0, 1, 2, 3].map(writer);
    t.after(async () => {
      writing = false;
      await Promise.allSettled(writers);
    });
    await Promise.race([enough, Promise.all(writers)]);

    // `nexus backup` in this process (as test/unit/config-cli.test.ts runs the CLI), so that the list of
    // acknowledged tickets is taken immediately before the copy starts, while the writers keep going.
    const acknowledgedBefore = [...acknowledged];
    const backupOut: string[] = [];
    const backupErr: string[] = [];
    const savedDataDir = process.env.NEXUS_DATA_DIR;
    process.env.NEXUS_DATA_DIR = liveDir;
    try {
      assert.equal(
        await main(
          ['backup', '--out', backupFile],
          (l) => backupOut.push(l),
          (l) => backupErr.push(l),
        ),
        0,
        backupErr.join('\n'),
      );
    } finally {
      if (savedDataDir === undefined) delete process.env.NEXUS_DATA_DIR;
      else process.env.NEXUS_DATA_DIR = savedDataDir;
    }
    const acknowledgedDuring = acknowledged.length - acknowledgedBefore.length;
    longRead.exec('COMMIT');
    assert.match(backupOut.join('\n'), /integrity_check ok/);
    assert.match(backupOut.join('\n'), /attachments: 1 file /);

    // A restore onto the data dir the server has open is refused, even with --force, and changes nothing.
    const onLive = await runNexus(cleanup, ['restore', backupFile, '--force'], { NEXUS_DATA_DIR: liveDir });
    assert.equal(onLive.code, 1, onLive.stdout);
    assert.match(onLive.stderr, /a process has .*nexus\.sqlite open/);
    assert.deepEqual(
      fs.readdirSync(liveDir).filter((f) => f.includes('replaced') || f.includes('restoring')),
      [],
    );

    writing = false;
    await Promise.all(writers);

    assert.equal(integrityCheck(backupFile), 'ok');
    assert.equal(fs.statSync(backupFile).mode & 0o777, 0o600, 'the backup is as private as the database');
    assert.equal(fs.readFileSync(`${backupFile}.secret-key`, 'utf8'), fs.readFileSync(path.join(liveDir, 'secret-key'), 'utf8'));

    const restore = await runNexus(cleanup, ['restore', backupFile], { NEXUS_DATA_DIR: restoredDir });
    assert.equal(restore.code, 0, restore.stderr);
    assert.equal(integrityCheck(path.join(restoredDir, 'nexus.sqlite')), 'ok');
    // Once restored, the data dir holds data: a second restore needs --force, which moves the data aside.
    const restoredConfig = loadConfig({ NEXUS_DATA_DIR: restoredDir });
    const lines: string[] = [];
    const errors: string[] = [];
    assert.equal(
      await runRestore(
        [backupFile],
        restoredConfig,
        (l) => lines.push(l),
        (l) => errors.push(l),
      ),
      1,
    );
    assert.match(errors.join('\n'), /refusing to restore over existing data: .*nexus\.sqlite/);
    assert.equal(
      await runRestore(
        [backupFile, '--force'],
        restoredConfig,
        (l) => lines.push(l),
        (l) => errors.push(l),
      ),
      0,
      errors.join('\n'),
    );
    const aside = fs.readdirSync(restoredDir).filter((f) => f.startsWith('nexus.sqlite.replaced-'));
    assert.equal(aside.length, 1, `the replaced database is kept: ${fs.readdirSync(restoredDir).join(', ')}`);
    assert.equal(integrityCheck(path.join(restoredDir, aside[0]!)), 'ok');
    assert.ok(!fs.readdirSync(restoredDir).some((f) => f.endsWith('.restoring')), 'no staged copy is left behind');

    const restored = await startServer(cleanup, { NEXUS_DATA_DIR: restoredDir, NEXUS_RATE_LIMIT: 'off' });
    const missing: string[] = [];
    for (const id of acknowledgedBefore) {
      const res = await fetch(`${restored.base}/v1/tickets/${id}`, { headers });
      if (res.status !== 200) missing.push(`${id}: ${res.status}`);
    }
    assert.deepEqual(missing, [], 'every ticket acknowledged before the backup began is in the restored data');
    // Nothing the live server never acknowledged appears: the restored tickets are a subset of what clients saw.
    const listed: string[] = [];
    let cursor: string | null = null;
    do {
      const page = (await (
        await fetch(`${restored.base}/v1/tickets?brand_id=${brand.id}&limit=100${cursor ? `&after=${cursor}` : ''}`, { headers })
      ).json()) as {
        data: { id: string }[];
        next_cursor: string | null;
      };
      listed.push(...page.data.map((x) => x.id));
      cursor = page.next_cursor;
    } while (cursor);
    const everAcknowledged = new Set(acknowledged);
    assert.deepEqual(
      listed.filter((id) => !everAcknowledged.has(id)),
      [],
    );
    // The writes went on after the backup: the snapshot does not hold them all.
    assert.ok(listed.length < acknowledged.length, `${listed.length} < ${acknowledged.length}`);
    t.diagnostic(
      `acknowledged before the backup: ${acknowledgedBefore.length}, while it ran: ${acknowledgedDuring}, in all: ${acknowledged.length}; restored: ${listed.length}`,
    );

    // The attachment's bytes came back, and the URL-signing keys unseal with the restored secret key.
    const view = (await (await fetch(`${restored.base}/v1/attachments/${attachment.id}`, { headers })).json()) as { download_url: string; sha256: string };
    const download = await fetch(view.download_url);
    assert.equal(download.status, 200);
    const downloaded = Buffer.from(await download.arrayBuffer());
    assert.equal(createHash('sha256').update(downloaded).digest('hex'), createHash('sha256').update(bytes).digest('hex'));
    assert.equal(view.sha256, createHash('sha256').update(bytes).digest('hex'));
  });
});
