import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { buildTestApp, testPostgresUrl } from '../helpers/app.js';
import { createBrand, createTicket } from '../helpers/factories.js';
import { ManualClock } from '../../src/shared/clock.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

function startServer(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, NEXUS_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  return { child, output: () => output };
}

async function waitHealthy(base: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error('server exited');
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not become healthy');
}

const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

// These exercise the embedded SQLite file and the `npm start` process; the PostgreSQL run skips them.
describe('durability', { skip: testPostgresUrl ? 'SQLite durability suite' : false }, () => {
  it('a restart keeps everything', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-restart-'));
    const clock = new ManualClock('2026-01-15T10:00:00Z');
    const first = await buildTestApp({ dataDir, clock });
    const brand = (await createBrand(first, { id: 'brand_keep' })).id;
    const ticket = await createTicket(first, brand, { tags: ['kept'] });
    await first.request({ method: 'POST', url: `/v1/tickets/${ticket.id}/messages`, body: { author_type: 'agent', body: 'reply', cc: ['cc@example.com'] } });
    await first.request({ method: 'PATCH', url: `/v1/tickets/${ticket.id}`, body: { status: 'pending' } });
    const before = (await first.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).json();
    const token = first.adminToken;
    await first.close();

    const second = await buildTestApp({ dataDir, clock });
    const res = await second.request({ method: 'GET', url: `/v1/tickets/${ticket.id}`, token });
    assert.equal(res.statusCode, 200, 'the old token still works');
    assert.deepEqual(res.json(), before);
    await second.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('npm start: first-start admin token file (0600), acknowledged writes survive SIGKILL, SIGTERM exits cleanly', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-proc-'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = { PORT: String(port), NEXUS_DATA_DIR: dataDir };
    const first = startServer(env);
    await waitHealthy(base, first.child);
    const tokenFile = path.join(dataDir, 'admin-token');
    assert.equal(fs.statSync(tokenFile).mode & 0o777, 0o600);
    const token = fs.readFileSync(tokenFile, 'utf8').trim();
    assert.ok(first.output().includes(token), 'printed once on first start');
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    assert.equal((await fetch(`${base}/v1/brands`, { method: 'POST', headers: auth, body: JSON.stringify({ id: 'brand_k', name: 'K' }) })).status, 201);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${base}/v1/tickets`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ brand_id: 'brand_k', subject: `s${i}`, customer: { email: 'c@example.com' } }),
      });
      assert.equal(res.status, 201);
      ids.push(((await res.json()) as { id: string }).id);
    }
    const killed = exited(first.child);
    first.child.kill('SIGKILL');
    await killed;

    const second = startServer(env);
    await waitHealthy(base, second.child);
    assert.ok(!second.output().includes(token), 'the token is not printed again');
    const list = (await (await fetch(`${base}/v1/tickets?limit=100`, { headers: auth })).json()) as { data: { id: string }[] };
    assert.deepEqual(list.data.map((x) => x.id).sort(), ids.sort());
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const stopped = exited(second.child);
    second.child.kill('SIGTERM');
    assert.equal(await stopped, 0);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses to start on a bad environment variable, naming it', async () => {
    const bad = startServer({ PORT: 'eighty' });
    const code = await exited(bad.child);
    assert.equal(code, 2);
    assert.match(bad.output(), /PORT/);
    assert.ok(!/\n\s+at /.test(bad.output()), 'no stack trace');
  });
});
