import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { Webhook } from 'standardwebhooks';
import { ManualClock, systemClock } from '../../src/shared/clock.js';
import { type DispatcherOptions, type WebhookDispatcher, createWebhookDispatcher } from '../../src/webhooks/dispatcher.js';
import type { Resolve } from '../../src/webhooks/ssrf-guard.js';
import { build, buildTestApp, type TestApp } from '../helpers/app.js';
import { createBrand, createTicket } from '../helpers/factories.js';
import { type WebhookReceiver, startWebhookReceiver } from '../helpers/webhook-receiver.js';

const silent = pino({ level: 'silent' });

interface Harness {
  t: TestApp;
  dispatcher: WebhookDispatcher;
  close(): Promise<void>;
}

/**
 * The real app (its clock frozen near the real time, so signatures verify) and a dispatcher on
 * the wall clock, polling fast, with a short retry schedule.
 */
async function harness(options: DispatcherOptions & { env?: Record<string, string> } = {}): Promise<Harness> {
  const { env, ...dispatcherOptions } = options;
  const t = await buildTestApp({ clock: new ManualClock(new Date()), env: { NEXUS_WEBHOOK_RETRY_SCHEDULE: '100ms,200ms,300ms', ...env } });
  const dispatcher = createWebhookDispatcher(
    { db: t.runtime.db, clock: t.clock, secretBox: t.runtime.secretBox, config: t.config, log: silent },
    { clock: systemClock, pollIntervalMs: 50, attemptTimeoutMs: 3000, ...dispatcherOptions },
  );
  dispatcher.start();
  return {
    t,
    dispatcher,
    async close() {
      await dispatcher.stop({ graceMs: 0 });
      await t.close();
    },
  };
}

async function register(t: TestApp, body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const res = await t.request({ method: 'POST', url: '/v1/webhooks', body: { events: ['*'], ...body } });
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

// biome-ignore lint/suspicious/noExplicitAny: delivery records as JSON; tests assert on the fields they read
async function deliveries(t: TestApp, webhookId: string, query = ''): Promise<any[]> {
  const res = await t.request({ method: 'GET', url: `/v1/webhooks/${webhookId}/deliveries${query}` });
  assert.equal(res.statusCode, 200, res.body);
  return res.json().data;
}

/** Polls until `fn` returns a truthy value. */
async function eventually<T>(fn: () => Promise<T>, timeoutMs = 60_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

const headersOf = (r: { headers: Record<string, unknown> }) => ({
  'webhook-id': String(r.headers['webhook-id']),
  'webhook-timestamp': String(r.headers['webhook-timestamp']),
  'webhook-signature': String(r.headers['webhook-signature']),
});

describe('webhook delivery', () => {
  let h: Harness;
  let receiver: WebhookReceiver;
  before(async () => {
    h = await harness();
    receiver = await startWebhookReceiver();
  });
  after(async () => {
    await h.close();
    await receiver.close();
  });

  it('delivers a ticket event signed per Standard Webhooks, verified by the standardwebhooks package', async () => {
    const brand = await createBrand(h.t);
    const hook = await register(h.t, { url: receiver.url, brand_ids: [brand.id] });
    assert.match(hook.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    const ticket = await createTicket(h.t, brand.id);
    const [got] = await receiver.waitFor(1, { filter: (r) => r.json?.data?.ticket?.id === ticket.id });
    assert.equal(got!.headers['content-type'], 'application/json');
    const payload = new Webhook(hook.secret).verify(got!.body, headersOf(got!)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(payload), ['id', 'type', 'timestamp', 'data']);
    assert.equal(payload.type, 'ticket.created');
    assert.equal(payload.id, got!.headers['webhook-id']);
    assert.match(String(payload.id), /^evt_/);
    assert.match(String(payload.timestamp), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    assert.equal((payload.data as { ticket: { subject: string } }).ticket.subject, ticket.subject);
    // The same event is in the event log under the same id.
    const log = (await h.t.request({ method: 'GET', url: `/v1/events?type=ticket.created` })).json();
    assert.ok(log.data.some((e: { id: string }) => e.id === payload.id));
    // A tampered body fails verification.
    assert.throws(() => new Webhook(hook.secret).verify(got!.body.replace('ticket.created', 'ticket.updated'), headersOf(got!)));

    const [d] = await eventually(async () => {
      const list = await deliveries(h.t, hook.id);
      return list[0]?.status === 'succeeded' ? list : undefined;
    });
    assert.equal(d.event_id, payload.id);
    assert.equal(d.attempt_count, 1);
    assert.equal(d.next_attempt_at, null);
    assert.equal(d.attempts[0].status_code, 200);
    assert.equal(d.attempts[0].response_body, 'ok');
    assert.equal(d.attempts[0].error, null);
    assert.equal(typeof d.attempts[0].duration_ms, 'number');
  });

  it('sends only the subscribed event types, with the message and the changes in data', async () => {
    const brand = await createBrand(h.t);
    const r = await startWebhookReceiver();
    try {
      await register(h.t, { url: r.url, brand_ids: [brand.id], events: ['ticket.message_created', 'ticket.updated'] });
      const ticket = await createTicket(h.t, brand.id);
      const reply = await h.t.request({ method: 'POST', url: `/v1/tickets/${ticket.id}/messages`, body: { author_type: 'agent', body: 'On it' } });
      assert.equal(reply.statusCode, 201);
      await h.t.request({ method: 'PATCH', url: `/v1/tickets/${ticket.id}`, body: { priority: 'high' } });
      const got = await r.waitFor(2);
      await h.dispatcher.drain();
      assert.deepEqual(r.received.map((x) => x.json.type).sort(), ['ticket.message_created', 'ticket.updated']);
      const message = got.find((x) => x.json.type === 'ticket.message_created')!.json.data;
      assert.equal(message.message.body, 'On it');
      assert.equal(message.ticket.id, ticket.id);
      const updated = got.find((x) => x.json.type === 'ticket.updated')!.json.data;
      assert.deepEqual(updated.changes.priority, { from: 'normal', to: 'high' });
    } finally {
      await r.close();
    }
  });

  it('sends only the events of the endpoint brands', async () => {
    const a = await createBrand(h.t);
    const b = await createBrand(h.t);
    const r = await startWebhookReceiver();
    try {
      await register(h.t, { url: r.url, brand_ids: [a.id], events: ['ticket.created'] });
      await createTicket(h.t, b.id);
      const mine = await createTicket(h.t, a.id);
      await r.waitFor(1);
      await h.dispatcher.drain();
      assert.deepEqual(
        r.received.map((x) => x.json.data.ticket.id),
        [mine.id],
      );
    } finally {
      await r.close();
    }
  });

  it('retries after a 500 with the same webhook-id and logs both attempts', async () => {
    const brand = await createBrand(h.t);
    const r = await startWebhookReceiver();
    r.respond((_req, n) => (n === 1 ? { status: 500, body: 'database exploded' } : { status: 204 }));
    try {
      const hook = await register(h.t, { url: r.url, brand_ids: [brand.id], events: ['ticket.created'] });
      await createTicket(h.t, brand.id);
      const [first, second] = await r.waitFor(2);
      assert.equal(first!.headers['webhook-id'], second!.headers['webhook-id']);
      assert.equal(first!.body, second!.body);
      new Webhook(hook.secret).verify(second!.body, headersOf(second!));
      const [d] = await eventually(async () => {
        const list = await deliveries(h.t, hook.id, '?status=succeeded');
        return list.length ? list : undefined;
      });
      assert.equal(d.attempt_count, 2);
      assert.equal(d.attempts[0].status_code, 500);
      assert.equal(d.attempts[0].response_body, 'database exploded');
      assert.ok(d.attempts[0].next_attempt_at);
      assert.equal(d.attempts[1].status_code, 204);
      assert.equal(d.attempts[1].next_attempt_at, null);
    } finally {
      await r.close();
    }
  });

  it('honours Retry-After on a 429', async () => {
    const brand = await createBrand(h.t);
    const r = await startWebhookReceiver();
    r.respond((_req, n) => (n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 }));
    try {
      await register(h.t, { url: r.url, brand_ids: [brand.id], events: ['ticket.created'] });
      await createTicket(h.t, brand.id);
      const [first, second] = await r.waitFor(2, { timeoutMs: 5000 });
      // The schedule says 100 ms; the endpoint asked for a second.
      assert.ok(second!.at - first!.at >= 950, `retried after ${second!.at - first!.at} ms`);
    } finally {
      await r.close();
    }
  });

  it('disables the endpoint at once on a 410', async () => {
    const brand = await createBrand(h.t);
    const r = await startWebhookReceiver();
    r.respond(() => ({ status: 410 }));
    try {
      const hook = await register(h.t, { url: r.url, brand_ids: [brand.id], events: ['ticket.created'] });
      await createTicket(h.t, brand.id);
      await r.waitFor(1);
      const view = await eventually(async () => {
        const v = (await h.t.request({ method: 'GET', url: `/v1/webhooks/${hook.id}` })).json();
        return v.enabled === false ? v : undefined;
      });
      assert.equal(view.disabled_reason, 'gone');
      const [d] = await deliveries(h.t, hook.id);
      assert.equal(d.status, 'failed');
      assert.equal(d.attempt_count, 1);
      await createTicket(h.t, brand.id);
      await h.dispatcher.drain();
      await sleep(100);
      assert.equal(r.received.length, 1);
    } finally {
      await r.close();
    }
  });

  it('does not follow redirects', async () => {
    const brand = await createBrand(h.t);
    const target = await startWebhookReceiver();
    const r = await startWebhookReceiver();
    r.respond(() => ({ status: 307, headers: { location: target.url } }));
    try {
      const hook = await register(h.t, { url: r.url, brand_ids: [brand.id], events: ['ticket.created'] });
      await createTicket(h.t, brand.id);
      // Every attempt of the schedule hits the redirecting endpoint, none its target.
      await r.waitFor(4);
      const [d] = await eventually(async () => {
        const list = await deliveries(h.t, hook.id, '?status=failed');
        return list.length ? list : undefined;
      });
      assert.equal(d.attempt_count, 4);
      assert.ok(d.attempts.every((a: { status_code: number }) => a.status_code === 307));
      assert.equal(target.received.length, 0);
    } finally {
      await r.close();
      await target.close();
    }
  });

  it('signs with both secrets during the rotation overlap', async () => {
    const brand = await createBrand(h.t);
    const r = await startWebhookReceiver();
    try {
      const hook = await register(h.t, { url: r.url, brand_ids: [brand.id], events: ['ticket.created'] });
      const rotated = await h.t.request({ method: 'POST', url: `/v1/webhooks/${hook.id}/rotate-secret` });
      assert.equal(rotated.statusCode, 200, rotated.body);
      const { secret: newSecret, previous_secret_expires_at } = rotated.json();
      assert.notEqual(newSecret, hook.secret);
      assert.ok(Math.abs(Date.parse(previous_secret_expires_at) - h.t.clock.now().getTime() - 24 * 3600 * 1000) < 1000);
      await createTicket(h.t, brand.id);
      const [got] = await r.waitFor(1);
      assert.equal(String(got!.headers['webhook-signature']).split(' ').length, 2);
      new Webhook(newSecret).verify(got!.body, headersOf(got!));
      new Webhook(hook.secret).verify(got!.body, headersOf(got!));
      assert.throws(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(got!.body, headersOf(got!)));
    } finally {
      await r.close();
    }
  });

  it('sends webhook.test to the one endpoint, and re-sends a delivery on request', async () => {
    const r = await startWebhookReceiver();
    r.respond((_req, n) => (n <= 4 ? { status: 502 } : { status: 200 }));
    try {
      const hook = await register(h.t, { url: r.url, events: ['ticket.assigned'] });
      const test = await h.t.request({ method: 'POST', url: `/v1/webhooks/${hook.id}/test` });
      assert.equal(test.statusCode, 202, test.body);
      assert.equal(test.json().event_type, 'webhook.test');
      await r.waitFor(4);
      assert.equal(r.received[0]!.json.type, 'webhook.test');
      new Webhook(hook.secret).verify(r.received[0]!.body, headersOf(r.received[0]!));
      const failed = await eventually(async () => (await deliveries(h.t, hook.id, '?status=failed'))[0]);
      assert.equal(failed.attempt_count, 4);
      const retry = await h.t.request({ method: 'POST', url: `/v1/webhooks/${hook.id}/deliveries/${failed.id}/retry` });
      assert.equal(retry.statusCode, 202, retry.body);
      await r.waitFor(5);
      assert.equal(r.received[4]!.headers['webhook-id'], r.received[0]!.headers['webhook-id']);
      const done = await eventually(async () => (await deliveries(h.t, hook.id, '?status=succeeded'))[0]);
      assert.equal(done.attempt_count, 5);
      // Test events stay out of the event log.
      const log = (await h.t.request({ method: 'GET', url: '/v1/events?limit=500' })).json();
      assert.ok(!log.data.some((e: { type: string }) => e.type === 'webhook.test'));
    } finally {
      await r.close();
    }
  });

  it('a receiver that never answers does not hold up another endpoint', async (t) => {
    // Attempts time out only after ten minutes here: if the live endpoint's deliveries waited
    // behind the hanging ones at all, they could not arrive before the wait below gives up.
    const slow = await harness({ attemptTimeoutMs: 600_000 });
    t.after(() => slow.close());
    const brand = await createBrand(slow.t);
    const dead = await startWebhookReceiver();
    dead.respond(() => 'hang');
    const alive = await startWebhookReceiver();
    try {
      await register(slow.t, { url: dead.url, brand_ids: [brand.id], events: ['ticket.created'] });
      await register(slow.t, { url: alive.url, brand_ids: [brand.id], events: ['ticket.created'] });
      for (let i = 0; i < 12; i++) await createTicket(slow.t, brand.id);
      await alive.waitFor(12, { timeoutMs: 120_000 });
      // The dead one holds at most its own per-endpoint slots, still waiting.
      assert.ok(dead.received.length >= 1 && dead.received.length <= 4, `dead endpoint got ${dead.received.length}`);
    } finally {
      await dead.close();
      await alive.close();
    }
  });
});

describe('webhook SSRF guard at send time', () => {
  const fakeDns: Resolve = async (hostname) => {
    const table: Record<string, string> = {
      'hooks.internal-corp.example': '10.20.30.40',
      'metadata.example': '169.254.169.254',
      'loopback.example': '127.0.0.1',
      'v6-loopback.example': '::1',
    };
    const address = table[hostname];
    if (!address) throw Object.assign(new Error(`no such host ${hostname}`), { code: 'ENOTFOUND' });
    return [{ address, family: address.includes(':') ? 6 : 4 }];
  };
  let h: Harness;
  let receiver: WebhookReceiver;
  before(async () => {
    // The endpoints are saved while private addresses are allowed; the sending worker refuses them.
    h = await harness({ allowPrivate: false, resolve: fakeDns });
    receiver = await startWebhookReceiver();
  });
  after(async () => {
    await h.close();
    await receiver.close();
  });

  it('refuses 127.0.0.1, 10.x, 169.254.169.254 and names that resolve to private addresses', async () => {
    const brand = await createBrand(h.t);
    const urls = [
      receiver.url,
      'http://10.0.0.1:9/hooks',
      'http://169.254.169.254/latest/meta-data/',
      `http://hooks.internal-corp.example:${receiver.port}/hooks`,
      `http://metadata.example/`,
      `http://loopback.example:${receiver.port}/hooks`,
      `http://v6-loopback.example:${receiver.port}/hooks`,
      `http://[::ffff:127.0.0.1]:${receiver.port}/hooks`,
    ];
    const hooks = [];
    for (const url of urls) hooks.push(await register(h.t, { url, brand_ids: [brand.id], events: ['ticket.created'] }));
    await createTicket(h.t, brand.id);
    for (const hook of hooks) {
      const [d] = await eventually(async () => {
        const list = await deliveries(h.t, hook.id);
        return list[0]?.attempts.length ? list : undefined;
      });
      assert.equal(d.attempts[0].status_code, null);
      assert.match(d.attempts[0].error, /^destination refused/);
    }
    assert.equal(receiver.received.length, 0);
  });

  it('refuses private URLs when they are saved, too', async (ctx) => {
    const t = await build(ctx, { env: { NEXUS_WEBHOOK_ALLOW_PRIVATE: '0' } });
    for (const url of [
      'http://127.0.0.1:8080/x',
      'http://10.1.2.3/x',
      'http://169.254.169.254/',
      'http://localhost:3000/',
      'http://[::1]/',
      'http://metadata.google.internal/',
    ]) {
      const res = await t.request({ method: 'POST', url: '/v1/webhooks', body: { url, events: ['*'] } });
      assert.equal(res.statusCode, 422, `${url}: ${res.body}`);
      assert.equal(res.json().errors[0].pointer, '/url');
    }
    const ok = await t.request({ method: 'POST', url: '/v1/webhooks', body: { url: 'https://hooks.example.com/nexus', events: ['*'] } });
    assert.equal(ok.statusCode, 201, ok.body);
  });
});

describe('webhook endpoint auto-disable', () => {
  it('disables an endpoint whose every attempt failed for 5 days', async (ctx) => {
    const clock = new ManualClock(new Date());
    const t = await build(ctx, { clock, env: { NEXUS_WEBHOOK_RETRY_SCHEDULE: '1h,1h,1h,1h,1h,1h,1h,1h,1h,1h' } });
    const r = await startWebhookReceiver();
    r.respond(() => ({ status: 500 }));
    const dispatcher = createWebhookDispatcher(
      { db: t.runtime.db, clock, secretBox: t.runtime.secretBox, config: t.config, log: silent },
      { random: () => 0.5 },
    );
    try {
      const brand = await createBrand(t);
      const hook = await register(t, { url: r.url, brand_ids: [brand.id], events: ['ticket.created'] });
      await createTicket(t, brand.id);
      await dispatcher.drain();
      assert.equal(r.received.length, 1);
      clock.advance(3 * 24 * 3600 * 1000);
      await createTicket(t, brand.id);
      await dispatcher.drain();
      assert.equal(r.received.length, 3); // the retry of the first and the second ticket
      const failing = (await t.request({ method: 'GET', url: `/v1/webhooks/${hook.id}` })).json();
      assert.equal(failing.enabled, true);
      assert.match(failing.failing_since, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/, 'health: failing since the first failed attempt');
      clock.advance(2 * 24 * 3600 * 1000 + 1000);
      await dispatcher.drain();
      const view = (await t.request({ method: 'GET', url: `/v1/webhooks/${hook.id}` })).json();
      assert.equal(view.enabled, false);
      assert.equal(view.disabled_reason, 'failing');
      // Re-enabling resumes the paused deliveries.
      r.respond(() => ({ status: 200 }));
      const before = r.received.length;
      const patch = await t.request({ method: 'PATCH', url: `/v1/webhooks/${hook.id}`, body: { enabled: true } });
      assert.equal(patch.json().disabled_reason, null);
      clock.advance(3600 * 1000 * 2);
      await dispatcher.drain();
      assert.ok(r.received.length > before);
      assert.equal((await deliveries(t, hook.id, '?status=pending')).length, 0);
      assert.equal((await t.request({ method: 'GET', url: `/v1/webhooks/${hook.id}` })).json().failing_since, null, 'healthy again');
    } finally {
      await dispatcher.stop();
      await r.close();
    }
  });
});
