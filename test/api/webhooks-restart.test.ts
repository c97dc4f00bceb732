import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ADMIN = 'nxc_restart_test_admin_token_0123456789abcdef';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The real server, `src/main.ts`, as `npm start` runs it. */
async function startServer(env: Record<string, string>): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), NEXUS_ADMIN_TOKEN: ADMIN, NEXUS_WEBHOOK_ALLOW_PRIVATE: '1', NEXUS_LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${base}/readyz`)).ok) return { child, base };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('server did not start');
    await sleep(50);
  }
}

async function call(base: string, method: string, url: string, body?: unknown) {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${url}: ${res.status} ${text}`);
  return JSON.parse(text);
}

function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('webhooks across a crash', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-restart-'));
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('delivers events committed before a SIGKILL once the server is back', async () => {
    const receiver = await startWebhookReceiver();
    try {
      // First life: the API commits tickets and their events, but no dispatcher runs.
      const first = await startServer({ NEXUS_DATA_DIR: dataDir, NEXUS_WORKERS: '0' });
      children.push(first.child);
      const brand = await call(first.base, 'POST', '/v1/brands', { name: 'Crashy' });
      await call(first.base, 'POST', '/v1/webhooks', { url: receiver.url, events: ['ticket.created'] });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const ticket = await call(first.base, 'POST', '/v1/tickets', { brand_id: brand.id, subject: `Crash ${i}`, customer: { email: 'c@example.com' } });
        ids.push(ticket.id);
      }
      await kill9(first.child);
      assert.equal(receiver.received.length, 0);

      // Second life: the dispatcher finds the undelivered events and sends them.
      const second = await startServer({ NEXUS_DATA_DIR: dataDir });
      children.push(second.child);
      const got = await receiver.waitFor(3, { timeoutMs: 10_000 });
      assert.deepEqual(got.map((r) => r.json.data.ticket.id).sort(), [...ids].sort());
      const events = await call(second.base, 'GET', '/v1/events?type=ticket.created');
      assert.deepEqual(got.map((r) => r.headers['webhook-id']).sort(), events.data.map((e: { id: string }) => e.id).sort());
      await kill9(second.child);
    } finally {
      await receiver.close();
    }
  });
});
