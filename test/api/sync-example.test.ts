import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { testPostgresUrl } from '../helpers/app.js';
import { ROOT, startServer } from '../helpers/server-process.js';
import { eventually } from '../helpers/wait.js';

interface Ticket {
  id: string;
  subject: string;
  updated_at: string;
}

/** Runs examples/sync.ts as a reader of docs/sync.md would; killed at cleanup if still running. */
function runSync(
  cleanup: (fn: () => void) => void,
  env: Record<string, string>,
  mirror: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/sync.ts', mirror], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  cleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe('the sync example of docs/sync.md', { skip: testPostgresUrl ? 'spawns a server on SQLite' : false }, () => {
  it('mirrors every ticket, then only what changed, and ends equal to the source while others write', async (t) => {
    const cleanup = t.after.bind(t);
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-sync-'));
    t.after(() => fs.rmSync(scratch, { recursive: true, force: true }));
    const dataDir = path.join(scratch, 'data');
    const mirrorFile = path.join(scratch, 'mirror.json');
    const server = await startServer(cleanup, { NEXUS_DATA_DIR: dataDir, NEXUS_RATE_LIMIT: 'off' });
    const token = fs.readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const send = async (method: string, url: string, body?: unknown) => {
      const res = await fetch(`${server.base}${url}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      assert.ok(res.ok, `${method} ${url}: ${res.status} ${await res.clone().text()}`);
      return res.json() as Promise<Ticket & { data: Ticket[]; next_cursor: string | null }>;
    };
    const env = { NEXUS_URL: server.base, NEXUS_TOKEN: token };
    const sync = async () => {
      const run = await runSync(cleanup, env, mirrorFile);
      assert.equal(run.code, 0, run.stderr);
      return JSON.parse(run.stdout) as { fetched: number; tickets: number; high_water: string };
    };
    /** Every ticket as the API has it now. */
    const source = async () => {
      const out = new Map<string, Ticket>();
      let after: string | null = null;
      do {
        const page = await send('GET', `/v1/tickets?limit=100${after ? `&after=${after}` : ''}`);
        for (const x of page.data) out.set(x.id, x);
        after = page.next_cursor;
      } while (after);
      return out;
    };
    const assertMirrored = async () => {
      const mirror = JSON.parse(fs.readFileSync(mirrorFile, 'utf8')) as { tickets: Record<string, Ticket> };
      const expected = await source();
      assert.equal(Object.keys(mirror.tickets).length, expected.size);
      for (const [id, x] of expected) assert.deepEqual(mirror.tickets[id], x, id);
    };

    const brand = await send('POST', '/v1/brands', { name: 'Mirrored' });
    const tickets: Ticket[] = [];
    const create = async (i: number) =>
      tickets.push(await send('POST', '/v1/tickets', { brand_id: brand.id, subject: `Ticket ${i}`, customer: { email: `c${i}@example.com` } }));
    for (let i = 0; i < 60; i++) await create(i);
    // A run reads again from one second before its high-water mark (updated_at has whole seconds).
    // The first 60 tickets are made to lie before that window, so that the second run shows it
    // fetches only what changed: a fast server makes all 120 within one second.
    const early = tickets[59]!.updated_at;
    await eventually('the clock to pass the first tickets by two seconds', () => Date.now() >= Date.parse(early) + 2000, 10_000);
    for (let i = 60; i < 120; i++) await create(i);

    const first = await sync();
    assert.equal(first.fetched, 120);
    assert.equal(first.tickets, 120);
    await assertMirrored();

    // Changes since: only those (and the tickets of the high-water second, read again) come back.
    for (const x of tickets.slice(0, 3)) await send('PATCH', `/v1/tickets/${x.id}`, { status: 'pending' });
    await send('POST', `/v1/tickets/${tickets[5]!.id}/messages`, { author_type: 'customer', body: 'Any news?' });
    await create(120);
    const second = await sync();
    assert.ok(second.fetched >= 5 && second.fetched < 120, `fetched ${second.fetched}`);
    assert.equal(second.tickets, 121);
    await assertMirrored();

    // A run while others write, then one more: the mirror ends equal to the source.
    let writing = true;
    const writer = (async () => {
      for (let n = 0; writing; n++) {
        const x = tickets[(n * 37) % tickets.length]!;
        await send('PATCH', `/v1/tickets/${x.id}`, { subject: `Changed ${n}` });
        if (n % 5 === 0) await create(200 + n);
      }
    })();
    const during = await sync();
    writing = false;
    await writer;
    assert.ok(during.fetched >= 1);
    await sync();
    await assertMirrored();
  });
});
