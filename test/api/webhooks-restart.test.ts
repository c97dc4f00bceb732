import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { startServer } from '../helpers/server-process.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';

const ADMIN = 'nxc_restart_test_admin_token_0123456789abcdef';

const serverEnv = (env: Record<string, string>) => ({ NEXUS_ADMIN_TOKEN: ADMIN, NEXUS_WEBHOOK_ALLOW_PRIVATE: '1', NEXUS_LOG_LEVEL: 'error', ...env });

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

describe('webhooks across a crash', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-restart-'));
  after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('delivers events committed before a SIGKILL once the server is back', async (t) => {
    const receiver = await startWebhookReceiver();
    try {
      // First life: the API commits tickets and their events, but no dispatcher runs.
      const first = await startServer(t.after.bind(t), serverEnv({ NEXUS_DATA_DIR: dataDir, NEXUS_WORKERS: '0' }), { readyPath: '/readyz' });
      const brand = await call(first.base, 'POST', '/v1/brands', { name: 'Crashy' });
      await call(first.base, 'POST', '/v1/webhooks', { url: receiver.url, events: ['ticket.created'] });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const ticket = await call(first.base, 'POST', '/v1/tickets', { brand_id: brand.id, subject: `Crash ${i}`, customer: { email: 'c@example.com' } });
        ids.push(ticket.id);
      }
      await first.stop('SIGKILL');
      assert.equal(receiver.received.length, 0);

      // Second life: the dispatcher finds the undelivered events and sends them.
      const second = await startServer(t.after.bind(t), serverEnv({ NEXUS_DATA_DIR: dataDir }), { readyPath: '/readyz' });
      const got = await receiver.waitFor(3, { timeoutMs: 60_000 });
      assert.deepEqual(got.map((r) => r.json.data.ticket.id).sort(), [...ids].sort());
      const events = await call(second.base, 'GET', '/v1/events?type=ticket.created');
      assert.deepEqual(got.map((r) => r.headers['webhook-id']).sort(), events.data.map((e: { id: string }) => e.id).sort());
      await second.stop('SIGKILL');
    } finally {
      await receiver.close();
    }
  });
});
