/**
 * Metrics (docs/operations.md, "What to watch"): GET /metrics behind the metrics token or on a port
 * of its own, and the families an operator alerts on, measured through the real app.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { startMetricsServer } from '../../src/metrics/server.js';
import { createWebhookDispatcher } from '../../src/webhooks/dispatcher.js';
import { build, type TestApp } from '../helpers/app.js';
import { assertProblem, createBrand, createTicket } from '../helpers/factories.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef0123456789';
const silent = pino({ level: 'silent' });

/** The value of one sample of a Prometheus text exposition; undefined when there is no such line. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = new Map([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(match[3]);
  }
  return undefined;
}

async function scrape(t: TestApp): Promise<string> {
  const res = await t.request({ method: 'GET', url: '/metrics', token: METRICS_TOKEN });
  assert.equal(res.statusCode, 200, res.body);
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return res.body;
}

describe('GET /metrics', () => {
  it('is not served when neither a metrics token nor a metrics port is set', async (ctx) => {
    const t = await build(ctx);
    assert.equal(t.runtime.metrics, undefined, 'nothing is collected either');
    assertProblem(await t.request({ method: 'GET', url: '/metrics', token: null }), 404, 'route_not_found');
  });

  it('refuses a request without the metrics token, with a wrong one, or with an API token', async (ctx) => {
    const t = await build(ctx, { env: { NEXUS_METRICS_TOKEN: METRICS_TOKEN } });
    for (const [name, token] of [
      ['no token', null],
      ['a wrong token', `${METRICS_TOKEN.slice(0, -1)}x`],
      ['a longer token', `${METRICS_TOKEN}0`],
      ['the admin API token', t.adminToken],
    ] as const) {
      const res = await t.request({ method: 'GET', url: '/metrics', token });
      assertProblem(res, 401, 'unauthorized');
      assert.match(String(res.headers['www-authenticate']), /^Bearer /, name);
      assert.doesNotMatch(res.body, /nexus_/, name);
    }
    assert.equal((await t.request({ method: 'GET', url: '/metrics', token: METRICS_TOKEN })).statusCode, 200);
  });

  it('is left out of the OpenAPI document', async (ctx) => {
    const t = await build(ctx, { env: { NEXUS_METRICS_TOKEN: METRICS_TOKEN } });
    const doc = (await t.request({ method: 'GET', url: '/v1/openapi.json', token: null })).json();
    assert.equal(doc.paths['/metrics'], undefined);
  });

  it('reports request durations by route pattern, query durations, search indexes and process metrics', async (ctx) => {
    const t = await build(ctx, { env: { NEXUS_METRICS_TOKEN: METRICS_TOKEN } });
    const brand = await createBrand(t);
    const ticket = await createTicket(t, brand.id);
    const before = await scrape(t);
    const selectsBefore = sample(before, 'nexus_db_query_duration_seconds_count', { kind: 'select', table: 'tickets' }) ?? 0;
    for (let i = 0; i < 3; i++) assert.equal((await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).statusCode, 200);
    assert.equal((await t.request({ method: 'GET', url: '/v1/tickets/tick_00000000000000000000000000' })).statusCode, 404);
    assert.equal((await t.request({ method: 'GET', url: '/no/such/path/tick_123' })).statusCode, 404);
    assert.equal((await t.request({ method: 'POST', url: '/v1/tickets/search', body: { query: 'refund' } })).statusCode, 200);

    const text = await scrape(t);
    const route = '/v1/tickets/:ticket_id';
    assert.equal(sample(text, 'nexus_http_request_duration_seconds_count', { method: 'GET', route, status: '200' }), 3);
    assert.equal(sample(text, 'nexus_http_request_duration_seconds_count', { method: 'GET', route, status: '404' }), 1);
    assert.equal(sample(text, 'nexus_http_request_duration_seconds_count', { method: 'POST', route: '/v1/tickets', status: '201' }), 1);
    assert.equal(sample(text, 'nexus_http_request_duration_seconds_bucket', { method: 'GET', route, status: '200', le: '+Inf' }), 3);
    assert.ok(sample(text, 'nexus_http_request_duration_seconds_sum', { method: 'GET', route, status: '200' })! > 0);
    assert.equal(sample(text, 'nexus_http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status: '404' }), 1);
    assert.doesNotMatch(text, new RegExp(ticket.id), 'no raw URL, no id, in any label');
    assert.doesNotMatch(text, /no\/such\/path/);

    // Prepared reads (the read connection on SQLite) and built queries are both timed.
    assert.ok(sample(text, 'nexus_db_query_duration_seconds_count', { kind: 'select', table: 'tickets' })! >= selectsBefore + 3);
    assert.ok(sample(text, 'nexus_db_query_duration_seconds_count', { kind: 'insert', table: 'tickets' })! >= 1);
    assert.ok(sample(text, 'nexus_db_query_duration_seconds_count', { kind: 'insert', table: 'events' })! >= 1);

    // The search caught the keyword index up; its load from empty is reported.
    assert.equal(sample(text, 'nexus_search_index_lag_changes', { index: 'keyword' }), 0);
    assert.equal(sample(text, 'nexus_search_index_loads', { index: 'keyword' }), 1);
    assert.ok(sample(text, 'nexus_search_index_load_seconds', { index: 'keyword' })! >= 0);
    await createTicket(t, brand.id, { subject: 'Another one' });
    assert.ok(sample(await scrape(t), 'nexus_search_index_lag_changes', { index: 'keyword' })! >= 1, 'behind until the next search');

    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      assert.notEqual(sample(text, name), undefined, name);
    }
    assert.equal(sample(text, 'nexus_metrics_source_errors_total'), undefined, 'every gauge could be read');
  });

  it("counts the group commit's transactions, the writes in them and the batches run again", async (ctx) => {
    const t = await build(ctx, { env: { NEXUS_METRICS_TOKEN: METRICS_TOKEN } });
    const brand = await createBrand(t);
    const before = await scrape(t);
    const commits = sample(before, 'nexus_db_write_commits_total')!;
    const units = sample(before, 'nexus_db_write_units_total')!;
    assert.ok(Number.isInteger(commits) && Number.isInteger(units), `commits ${commits}, units ${units}`);
    // Five creates sent together: five writes, in fewer transactions than writes.
    const created = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        t.request({ method: 'POST', url: '/v1/tickets', body: { brand_id: brand.id, subject: `s${i}`, customer: { email: `c${i}@example.com` } } }),
      ),
    );
    for (const res of created) assert.equal(res.statusCode, 201, res.body);
    const after = await scrape(t);
    assert.equal(sample(after, 'nexus_db_write_units_total'), units + 5);
    const newCommits = sample(after, 'nexus_db_write_commits_total')! - commits;
    assert.ok(newCommits >= 1 && newCommits < 5, `five concurrent creates took ${newCommits} commits`);
    assert.equal(sample(after, 'nexus_db_write_batches_rerun_total'), 0);
  });

  it('shows the outbox and webhook backlogs, and delivery outcomes and latency', async (ctx) => {
    const t = await build(ctx, { env: { NEXUS_METRICS_TOKEN: METRICS_TOKEN, NEXUS_WEBHOOK_RETRY_SCHEDULE: '5s' } });
    const receiver = await startWebhookReceiver();
    ctx.after(() => receiver.close());
    const dispatcher = createWebhookDispatcher(
      { db: t.runtime.db, clock: t.clock, secretBox: t.runtime.secretBox, config: t.config, log: silent, observer: t.runtime.metrics!.deliveries },
      { random: () => 0.5 },
    );
    ctx.after(() => dispatcher.stop({ graceMs: 0 }));

    let text = await scrape(t);
    assert.equal(sample(text, 'nexus_outbox_backlog_events'), 0);
    assert.equal(sample(text, 'nexus_outbox_oldest_event_age_seconds'), 0);
    assert.equal(sample(text, 'nexus_webhook_backlog_deliveries'), 0);
    assert.equal(sample(text, 'nexus_webhook_oldest_due_delivery_age_seconds'), 0);

    const brand = await createBrand(t);
    const hook = await t.request({ method: 'POST', url: '/v1/webhooks', body: { url: receiver.url, events: ['ticket.created'], brand_ids: [brand.id] } });
    assert.equal(hook.statusCode, 201, hook.body);
    await createTicket(t, brand.id);
    t.clock.advance(90_000);
    text = await scrape(t);
    assert.equal(sample(text, 'nexus_outbox_backlog_events'), 1, 'the ticket.created event waits for fan-out');
    assert.equal(sample(text, 'nexus_outbox_oldest_event_age_seconds'), 90);

    // Fanned out and sent once; the endpoint fails, so the delivery waits for its retry in 5 s.
    receiver.respond(() => ({ status: 503 }));
    await dispatcher.drain();
    assert.equal(receiver.received.length, 1);
    text = await scrape(t);
    assert.equal(sample(text, 'nexus_outbox_backlog_events'), 0);
    assert.equal(sample(text, 'nexus_webhook_backlog_deliveries'), 0, 'a retry not due yet is no backlog');
    assert.equal(sample(text, 'nexus_webhook_attempts_total', { outcome: 'server_error' }), 1);
    assert.equal(sample(text, 'nexus_webhook_attempt_duration_seconds_count', { outcome: 'server_error' }), 1);
    assert.equal(sample(text, 'nexus_webhook_delivery_latency_seconds_count'), 0);

    t.clock.advance(65_000);
    text = await scrape(t);
    assert.equal(sample(text, 'nexus_webhook_backlog_deliveries'), 1, 'the retry is due and not made');
    assert.equal(sample(text, 'nexus_webhook_oldest_due_delivery_age_seconds'), 60);

    receiver.respond(() => ({ status: 204 }));
    await dispatcher.drain();
    assert.equal(receiver.received.length, 2);
    text = await scrape(t);
    assert.equal(sample(text, 'nexus_webhook_backlog_deliveries'), 0);
    assert.equal(sample(text, 'nexus_webhook_oldest_due_delivery_age_seconds'), 0);
    assert.equal(sample(text, 'nexus_webhook_attempts_total', { outcome: 'success' }), 1);
    assert.equal(sample(text, 'nexus_webhook_delivery_latency_seconds_count'), 1);
    // Written, then 90 s and 65 s of the test's clock before the successful attempt.
    assert.ok(sample(text, 'nexus_webhook_delivery_latency_seconds_sum')! >= 155);
  });

  it('is served on a listener of its own with NEXUS_METRICS_PORT, and only there without a token', async (ctx) => {
    const t = await build(ctx, { env: { NEXUS_METRICS_PORT: '0' } });
    assert.ok(t.runtime.metrics, 'a metrics port enables the metrics');
    assertProblem(await t.request({ method: 'GET', url: '/metrics', token: null }), 404, 'route_not_found');
    const server = await startMetricsServer(t.runtime.metrics, { host: '127.0.0.1', port: 0, token: undefined }, silent);
    ctx.after(() => server.close());
    await t.request({ method: 'GET', url: '/healthz', token: null });
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(sample(await res.text(), 'nexus_http_request_duration_seconds_count', { method: 'GET', route: '/healthz', status: '200' }), 1);
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/other`)).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/metrics`, { method: 'POST' })).status, 405);

    const guarded = await startMetricsServer(t.runtime.metrics, { host: '127.0.0.1', port: 0, token: METRICS_TOKEN }, silent);
    ctx.after(() => guarded.close());
    assert.equal((await fetch(`http://127.0.0.1:${guarded.port}/metrics`)).status, 401);
    assert.equal((await fetch(`http://127.0.0.1:${guarded.port}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    assert.equal((await fetch(`http://127.0.0.1:${guarded.port}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status, 200);
  });
});
