import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { ManualClock } from '../../src/shared/clock.js';
import { type WebhookDispatcher, createWebhookDispatcher } from '../../src/webhooks/dispatcher.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, createBrand, createTicket } from '../helpers/factories.js';
import { type WebhookReceiver, startWebhookReceiver } from '../helpers/webhook-receiver.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read as loose JSON here; the assertions check their shape
type Json = any;

/**
 * An endpoint that served brand A and is moved to brand B by an all-brands admin: brand B's
 * tokens now manage it, and must not read, re-send or receive brand A's events through it.
 */
describe('a webhook endpoint moved to another brand keeps the old brand’s events out of reach', () => {
  let t: TestApp;
  let dispatcher: WebhookDispatcher;
  let receiver: WebhookReceiver;
  let brandA: string;
  let brandB: string;
  let writerB: string;
  let endpoint: Json;
  let eventA: Json;
  let deliveryA: Json;

  const deliveryRows = () => t.runtime.db.selectFrom('webhook_deliveries').selectAll().orderBy('id').execute();

  before(async () => {
    t = await buildTestApp({ clock: new ManualClock(new Date()), env: { NEXUS_WEBHOOK_RETRY_SCHEDULE: '1m,1m,1m' } });
    dispatcher = createWebhookDispatcher(
      { db: t.runtime.db, clock: t.clock, secretBox: t.runtime.secretBox, config: t.config, log: pino({ level: 'silent' }) },
      { pollIntervalMs: 60_000, attemptTimeoutMs: 5000 },
    );
    receiver = await startWebhookReceiver();
    receiver.respond(() => ({ status: 503 }));
    brandA = (await createBrand(t)).id;
    brandB = (await createBrand(t)).id;
    writerB = await t.token(['webhooks:manage'], [brandB]);
    endpoint = (await t.request({ method: 'POST', url: '/v1/webhooks', body: { url: receiver.url, events: ['ticket.created'], brand_ids: [brandA] } })).json();
    await createTicket(t, brandA, { subject: 'Brand A secret plans' });
    await dispatcher.drain();
    await receiver.waitFor(1);
    const log = (await t.request({ method: 'GET', url: `/v1/webhooks/${endpoint.id}/deliveries` })).json().data;
    assert.equal(log.length, 1);
    deliveryA = log[0];
    assert.equal(deliveryA.status, 'pending', 'failed once, a retry is due in a minute');
    eventA = receiver.received[0]!.json;

    const moved = await t.request({ method: 'PATCH', url: `/v1/webhooks/${endpoint.id}`, body: { brand_ids: [brandB] } });
    assert.equal(moved.statusCode, 200, moved.body);
  });
  after(async () => {
    await dispatcher.stop({ graceMs: 0 });
    await receiver.close();
    await t.close();
  });

  it('brand B’s token manages the endpoint but does not see brand A’s deliveries in its log', async () => {
    assert.equal((await t.request({ method: 'GET', url: `/v1/webhooks/${endpoint.id}`, token: writerB })).statusCode, 200);
    const log = await t.request({ method: 'GET', url: `/v1/webhooks/${endpoint.id}/deliveries`, token: writerB });
    assert.equal(log.statusCode, 200, log.body);
    assert.deepEqual(log.json().data, []);
    assertProblem(await t.request({ method: 'GET', url: `/v1/webhooks/${endpoint.id}/deliveries/${deliveryA.id}`, token: writerB }), 404, 'not_found');
    // The all-brands admin still sees the whole log.
    const all = (await t.request({ method: 'GET', url: `/v1/webhooks/${endpoint.id}/deliveries` })).json().data;
    assert.deepEqual(
      all.map((d: Json) => d.id),
      [deliveryA.id],
    );
  });

  it('nobody can re-send brand A’s event through it: 404 for brand B, 409 for an all-brands admin, nothing changed', async () => {
    const before = await deliveryRows();
    assertProblem(await t.request({ method: 'POST', url: `/v1/webhooks/${endpoint.id}/deliveries/${deliveryA.id}/retry`, token: writerB }), 404, 'not_found');
    const refused = assertProblem(await t.request({ method: 'POST', url: `/v1/webhooks/${endpoint.id}/deliveries/${deliveryA.id}/retry` }), 409, 'conflict');
    assert.match(refused.detail, new RegExp(`no longer receives events of brand ${brandA}`));
    assert.deepEqual(await deliveryRows(), before);
  });

  it('its pending retries of brand A’s event were cancelled: pointed elsewhere by brand B, it receives nothing of brand A', async () => {
    const row = (await deliveryRows()).find((d) => d.id === deliveryA.id)!;
    assert.equal(row.status, 'failed');
    assert.equal(row.next_attempt_at, null);
    const elsewhere = await startWebhookReceiver();
    try {
      const repointed = await t.request({ method: 'PATCH', url: `/v1/webhooks/${endpoint.id}`, token: writerB, body: { url: elsewhere.url } });
      assert.equal(repointed.statusCode, 200, repointed.body);
      t.clock.advance(10 * 60_000);
      await dispatcher.drain();
      assert.deepEqual(elsewhere.received, [], 'brand A’s event was not sent to brand B’s receiver');
      // Brand B's own events do reach it.
      await createTicket(t, brandB, { subject: 'Brand B ticket' });
      await dispatcher.drain();
      const [got] = await elsewhere.waitFor(1);
      assert.equal(got!.json.data.ticket.brand_id, brandB);
      assert.notEqual(got!.json.id, eventA.id);
    } finally {
      await elsewhere.close();
    }
  });
});
