import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { build, buildTestApp, testPostgresUrl } from '../helpers/app.js';
import { freePort, spawnServer, startServer } from '../helpers/server-process.js';
import { createBrand, createTicket } from '../helpers/factories.js';
import { ManualClock } from '../../src/shared/clock.js';

// These exercise the embedded SQLite file and the `npm start` process; the PostgreSQL run skips them.
describe('durability', { skip: testPostgresUrl ? 'SQLite durability suite' : false }, () => {
  it('a restart keeps everything', async (t) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-restart-'));
    t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const clock = new ManualClock('2026-01-15T10:00:00Z');
    const first = await buildTestApp({ dataDir, clock });
    let firstOpen = true;
    t.after(async () => {
      if (firstOpen) await first.close();
    });
    const brand = (await createBrand(first, { id: 'brand_keep' })).id;
    const ticket = await createTicket(first, brand, { tags: ['kept'] });
    await first.request({ method: 'POST', url: `/v1/tickets/${ticket.id}/messages`, body: { author_type: 'agent', body: 'reply', cc: ['cc@example.com'] } });
    await first.request({ method: 'PATCH', url: `/v1/tickets/${ticket.id}`, body: { status: 'pending' } });
    const before = (await first.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).json();
    const token = first.adminToken;
    firstOpen = false;
    await first.close();

    const second = await build(t, { dataDir, clock });
    const res = await second.request({ method: 'GET', url: `/v1/tickets/${ticket.id}`, token });
    assert.equal(res.statusCode, 200, 'the old token still works');
    assert.deepEqual(res.json(), before);
  });

  it('npm start: first-start admin token file (0600), acknowledged writes survive SIGKILL, SIGTERM exits cleanly', async (t) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-proc-'));
    t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = { NEXUS_DATA_DIR: dataDir };
    const first = await startServer(t.after.bind(t), env, { port });
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
    await first.stop('SIGKILL');

    const metricsPort = await freePort();
    const second = await startServer(t.after.bind(t), { ...env, NEXUS_METRICS_PORT: String(metricsPort) }, { port });
    assert.ok(!second.output().includes(token), 'the token is not printed again');
    const list = (await (await fetch(`${base}/v1/tickets?limit=100`, { headers: auth })).json()) as { data: { id: string }[] };
    assert.deepEqual(list.data.map((x) => x.id).sort(), ids.sort());
    assert.equal((await fetch(`${base}/readyz`)).status, 200);

    // The server keeps its search indexes following the writes: with no search at all, the lag
    // of a new ticket's change goes back to 0.
    const written = await fetch(`${base}/v1/tickets`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ brand_id: 'brand_k', subject: 'followed', customer: { email: 'c@example.com' } }),
    });
    assert.equal(written.status, 201);
    const keywordLag = async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return Number(/^nexus_search_index_lag_changes\{index="keyword"\} (\S+)$/m.exec(text)?.[1]);
    };
    // Bounded only so that a server that never follows fails here rather than hanging the suite.
    const giveUpAt = Date.now() + 60_000;
    let lag = await keywordLag();
    while (lag !== 0 && Date.now() < giveUpAt) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      lag = await keywordLag();
    }
    assert.equal(lag, 0);
    assert.equal(await second.stop('SIGTERM'), 0);
  });

  it('refuses to start on a bad environment variable, naming it', async (t) => {
    const bad = await spawnServer(t.after.bind(t), { NEXUS_LOG_LEVEL: 'nonsense' });
    const code = await bad.exited();
    assert.equal(code, 2);
    assert.match(bad.output(), /NEXUS_LOG_LEVEL/);
    assert.ok(!/\n\s+at /.test(bad.output()), 'no stack trace');
  });
});
