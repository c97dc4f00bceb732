/**
 * The SDK (packages/sdk) against the real server, spawned as `npm start` runs it (with its webhook
 * dispatcher): pagination, problem errors, idempotency keys, retries of 429, webhook verification
 * of real deliveries. Retries of 503, which the server sends only while shutting down, are checked
 * against a small stand-in server that answers 503 first.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NexusClient, NexusProblemError, retryDelayMs, verifyWebhook, WebhookVerificationError } from '../../packages/sdk/src/index.js';
import { type ServerProcess, startServer } from '../helpers/server-process.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const ADMIN = 'sdk-test-admin-token-0123456789abcdef0123456789';

/** A fetch that lets the requests through to the server and keeps what was sent and answered. */
function recordingFetch() {
  const sent: { method: string; url: string; idempotencyKey: string | null; status: number; at: number }[] = [];
  return {
    sent,
    fetch: async (request: Request) => {
      const response = await fetch(request);
      sent.push({ method: request.method, url: request.url, idempotencyKey: request.headers.get('idempotency-key'), status: response.status, at: Date.now() });
      return response;
    },
  };
}

describe('the SDK against a real server', () => {
  let server: ServerProcess;
  let limited: ServerProcess;
  let receiver: WebhookReceiver;
  const dirs: string[] = [];
  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = (fn: () => Promise<void> | void) => cleanups.push(fn);

  before(async () => {
    const dataDir = () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-sdk-'));
      dirs.push(dir);
      return dir;
    };
    receiver = await startWebhookReceiver();
    [server, limited] = await Promise.all([
      startServer(cleanup, { NEXUS_DATA_DIR: dataDir(), NEXUS_ADMIN_TOKEN: ADMIN, NEXUS_WEBHOOK_ALLOW_PRIVATE: '1' }),
      // Three requests a second per token: enough to meet the limit on purpose.
      startServer(cleanup, { NEXUS_DATA_DIR: dataDir(), NEXUS_ADMIN_TOKEN: ADMIN, NEXUS_RATE_LIMIT_PER_TOKEN: '3', NEXUS_RATE_LIMIT_TOKEN_WINDOW: '1s' }),
    ]);
  });

  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
    await receiver?.close();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  const client = (options: Partial<ConstructorParameters<typeof NexusClient>[0]> = {}) => new NexusClient({ baseUrl: server.base, token: ADMIN, ...options });

  async function newBrand(nexus: NexusClient): Promise<string> {
    const { data, response } = await nexus.api.POST('/v1/brands', { body: { name: 'SDK test brand' } });
    assert.equal(response.status, 201);
    return data!.id;
  }

  it('walks every page of a list with for await, following next_cursor, and resumes from a saved cursor', async () => {
    const recorder = recordingFetch();
    const nexus = client({ fetch: recorder.fetch });
    const brandId = await newBrand(nexus);
    const created: string[] = [];
    for (let i = 0; i < 7; i++) {
      const ticket = await nexus.tickets.create({ brand_id: brandId, subject: `Ticket ${i}`, customer: { email: `c${i}@example.com` } });
      created.push(ticket.id);
    }
    recorder.sent.length = 0;
    const seen: string[] = [];
    for await (const ticket of nexus.tickets.list({ brand_id: brandId, limit: 3 })) seen.push(ticket.id);
    assert.deepEqual(seen, [...created].reverse(), 'every ticket once, newest first');
    assert.equal(recorder.sent.length, 3, 'three pages of at most 3');
    assert.ok(
      recorder.sent.every((r) => r.method === 'GET' && r.idempotencyKey === null),
      'no idempotency key on a GET',
    );

    const pages = nexus.tickets.list({ brand_id: brandId, limit: 4 }).pages();
    const first = await pages.next();
    assert.ok(!first.done);
    assert.equal(first.value.data.length, 4);
    const cursor = first.value.next_cursor!;
    const rest = await nexus.tickets.list({ brand_id: brandId, limit: 4, after: cursor }).toArray();
    assert.deepEqual(
      rest.map((t) => t.id),
      [...created].reverse().slice(4),
      'a saved cursor resumes where the walk stopped',
    );
    assert.equal((await nexus.tickets.list({ brand_id: brandId }).toArray(2)).length, 2, 'toArray stops at its maximum');

    const events = await nexus.events.list({ type: 'ticket.created', limit: 2 }).toArray();
    assert.ok(
      created.every((id) => events.some((e) => e.type === 'ticket.created' && e.data.ticket.id === id)),
      'the event log pages the same way',
    );
  });

  it('throws a NexusProblemError carrying the RFC 9457 fields, and nothing is stored', async () => {
    const nexus = client();
    const brandId = await newBrand(nexus);
    await assert.rejects(nexus.tickets.get('tick_doesnotexist'), (e: unknown) => {
      assert.ok(e instanceof NexusProblemError);
      assert.equal(e.status, 404);
      assert.equal(e.code, 'not_found');
      assert.equal(e.type, '/problems#not_found');
      assert.equal(typeof e.title, 'string');
      assert.match(e.request_id!, /^req_/);
      assert.equal(e.response.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      return true;
    });
    await assert.rejects(nexus.tickets.create({ brand_id: brandId, subject: 'Bad email', customer: { email: 'not-an-email' } }), (e: unknown) => {
      assert.ok(e instanceof NexusProblemError);
      assert.equal(e.status, 422);
      assert.equal(e.code, 'validation_failed');
      assert.deepEqual(
        e.errors.map((x) => x.pointer),
        ['/customer/email'],
      );
      assert.match(e.message, /^422 validation_failed: /);
      return true;
    });
    await assert.rejects(nexus.tickets.list({ brand_id: brandId, created_after: '2025-02-30' }).toArray(), (e: unknown) => {
      assert.ok(e instanceof NexusProblemError);
      assert.equal(e.status, 400);
      assert.equal(e.code, 'invalid_query');
      return true;
    });
    assert.deepEqual(await nexus.tickets.list({ brand_id: brandId }).toArray(), [], 'no ticket was stored');
    const stranger = new NexusClient({ baseUrl: server.base, token: 'nxc_not_a_real_token' });
    await assert.rejects(stranger.tickets.list().toArray(), (e: unknown) => e instanceof NexusProblemError && e.status === 401 && e.code === 'unauthorized');
  });

  it('sends an Idempotency-Key on every POST, and the caller’s own key makes a repeated create return the same ticket', async () => {
    const recorder = recordingFetch();
    const nexus = client({ fetch: recorder.fetch });
    const brandId = await newBrand(nexus);
    const ticket = await nexus.tickets.create({ brand_id: brandId, subject: 'Keyed', customer: { email: 'k@example.com' } });
    await nexus.tickets.reply(ticket.id, { author_type: 'agent', body: 'On it', author: { email: 'agent@example.com' } });
    const posts = recorder.sent.filter((r) => r.method === 'POST');
    assert.equal(posts.length, 3, 'brand, ticket, reply');
    assert.ok(
      posts.every((r) => /^[0-9a-f-]{36}$/.test(r.idempotencyKey ?? '')),
      'each POST carries a generated key',
    );
    assert.equal(new Set(posts.map((r) => r.idempotencyKey)).size, 3, 'a new key for each call');

    const key = `sync-run-42-${ticket.id}`;
    const once = await nexus.tickets.create({ brand_id: brandId, subject: 'Once', customer: { email: 'once@example.com' } }, { idempotencyKey: key });
    const again = await nexus.tickets.create({ brand_id: brandId, subject: 'Once', customer: { email: 'once@example.com' } }, { idempotencyKey: key });
    assert.equal(again.id, once.id, 'the repeat is answered with the first ticket');
    assert.equal(recorder.sent.at(-1)!.idempotencyKey, key);
    const subjects = (await nexus.tickets.list({ brand_id: brandId }).toArray()).map((t) => t.subject);
    assert.deepEqual(
      subjects.filter((s) => s === 'Once'),
      ['Once'],
      'stored once',
    );

    const detail = await nexus.tickets.get(ticket.id);
    assert.deepEqual(
      detail.messages.map((m) => m.body),
      ['On it'],
    );
    const updated = await nexus.tickets.update(ticket.id, { status: 'pending', tags: ['vip'] });
    assert.equal(updated.status, 'pending');
    const audit = await nexus.tickets.audit(ticket.id).toArray();
    assert.deepEqual(
      audit.map((a) => a.action),
      ['ticket.created', 'message.created', 'ticket.updated'],
    );
    const messages = await nexus.tickets.messages(ticket.id, { limit: 1 }).toArray();
    assert.deepEqual(
      messages.map((m) => m.body),
      ['On it'],
    );
  });

  it('waits out a 429 as Retry-After says and retries, until every request succeeds', async () => {
    const recorder = recordingFetch();
    const nexus = new NexusClient({ baseUrl: limited.base, token: ADMIN, fetch: recorder.fetch, retry: { maxRetries: 10 } });
    const answers = await Promise.all(Array.from({ length: 8 }, () => nexus.tickets.list({ limit: 1 }).toArray(1)));
    assert.equal(answers.length, 8, 'all eight lists answered');
    const refused = recorder.sent.filter((r) => r.status === 429);
    assert.ok(refused.length >= 5, `at most 3 of 8 fit in the first second; ${refused.length} were refused`);
    assert.equal(recorder.sent.filter((r) => r.status === 200).length, 8);
    const firstRefusal = Math.min(...refused.map((r) => r.at));
    const lastSuccess = Math.max(...recorder.sent.filter((r) => r.status === 200).map((r) => r.at));
    assert.ok(lastSuccess - firstRefusal >= 900, 'the retries waited for the window to move on (Retry-After: 1 at least)');

    const impatient = new NexusClient({ baseUrl: limited.base, token: ADMIN, retry: { maxRetries: 0 } });
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => impatient.tickets.list({ limit: 1 }).toArray(1)));
    const rejected = outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason);
    assert.ok(rejected.length >= 3, 'without retries the 429s come back');
    for (const e of rejected) {
      assert.ok(e instanceof NexusProblemError);
      assert.equal(e.code, 'rate_limited');
      assert.match(e.response.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    }
  });

  it('verifies a real webhook delivery, refuses a tampered one, and accepts both secrets during a rotation', async () => {
    const nexus = client();
    const brandId = await newBrand(nexus);
    const { data: endpoint, response } = await nexus.api.POST('/v1/webhooks', {
      body: { url: receiver.url, events: ['ticket.created'], brand_ids: [brandId] },
    });
    assert.equal(response.status, 201);
    const secret = endpoint!.secret;
    const ticket = await nexus.tickets.create({ brand_id: brandId, subject: 'Signed', customer: { email: 's@example.com' } });
    const isOurs = (id: string) => (r: { json: { data?: { ticket?: { id?: string } } } }) => r.json?.data?.ticket?.id === id;
    const [delivery] = await receiver.waitFor(1, { filter: isOurs(ticket.id) });
    const event = verifyWebhook(secret, delivery!.body, delivery!.headers);
    assert.equal(event.type, 'ticket.created');
    assert.equal(event.id, delivery!.headers['webhook-id']);
    assert.ok(event.type === 'ticket.created' && event.data.ticket.id === ticket.id);
    // The same delivery as fetch Headers and raw bytes, as a fetch-based framework hands it over.
    const headers = new Headers(Object.entries(delivery!.headers).map(([k, v]) => [k, String(v)] as [string, string]));
    assert.equal(verifyWebhook(secret, new TextEncoder().encode(delivery!.body), headers).id, event.id);

    assert.throws(() => verifyWebhook(secret, delivery!.body.replace('Signed', 'Forged'), delivery!.headers), WebhookVerificationError);
    assert.throws(() => verifyWebhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`, delivery!.body, delivery!.headers), WebhookVerificationError);
    assert.throws(() => verifyWebhook(secret, delivery!.body, { ...delivery!.headers, 'webhook-signature': undefined }), WebhookVerificationError);

    const { data: rotated } = await nexus.api.POST('/v1/webhooks/{webhook_id}/rotate-secret', { params: { path: { webhook_id: endpoint!.id } } });
    const second = await nexus.tickets.create({ brand_id: brandId, subject: 'After rotation', customer: { email: 'r@example.com' } });
    const [overlap] = await receiver.waitFor(1, { filter: isOurs(second.id) });
    assert.equal(String(overlap!.headers['webhook-signature']).split(' ').length, 2, 'two signatures while the old secret lives');
    assert.equal(verifyWebhook(rotated!.secret, overlap!.body, overlap!.headers).id, overlap!.headers['webhook-id']);
    assert.equal(verifyWebhook(secret, overlap!.body, overlap!.headers).id, overlap!.headers['webhook-id']);
  });
});

describe('SDK retries of 503 (a stand-in server that answers 503 first)', () => {
  /** A server answering each request with the next of `answers` (the last one repeated), recording what came. */
  async function standIn(t: { after(fn: () => Promise<void>): void }, answers: { status: number; headers?: Record<string, string>; body?: unknown }[]) {
    const received: { method: string; key: string | undefined; body: string; at: number }[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ method: req.method!, key: req.headers['idempotency-key'] as string | undefined, body, at: Date.now() });
        const answer = answers[Math.min(received.length, answers.length) - 1]!;
        const json = answer.status >= 400 ? 'application/problem+json' : 'application/json';
        res.writeHead(answer.status, { 'content-type': json, ...answer.headers });
        res.end(JSON.stringify(answer.body ?? {}));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
  }

  const unavailable = (retryAfter: string) => ({
    status: 503,
    headers: { 'retry-after': retryAfter },
    body: { type: '/problems#unavailable', title: 'Service unavailable', status: 503, detail: 'Shutting down', code: 'unavailable', request_id: 'req_1' },
  });
  const message = {
    id: 'msg_1',
    ticket_id: 'tick_1',
    author_type: 'agent',
    author: null,
    body: 'Hi',
    cc: [],
    attachments: [],
    created_at: '2026-01-15T10:00:00Z',
  };

  it('retries a POST after Retry-After with the same Idempotency-Key and body', async (t) => {
    const stub = await standIn(t, [unavailable('1'), unavailable('0'), { status: 201, body: message }]);
    const nexus = new NexusClient({ baseUrl: stub.base, token: 'nxc_x' });
    const created = await nexus.tickets.reply('tick_1', { author_type: 'agent', body: 'Hi' });
    assert.equal(created.id, 'msg_1');
    assert.equal(stub.received.length, 3);
    assert.equal(new Set(stub.received.map((r) => r.key)).size, 1, 'one key across the attempts');
    assert.ok(stub.received[0]!.key);
    assert.ok(
      stub.received.every((r) => r.body === '{"author_type":"agent","body":"Hi"}'),
      'the body is sent again each time',
    );
    assert.ok(stub.received[1]!.at - stub.received[0]!.at >= 950, 'waited the second Retry-After asked for');
  });

  it('gives up after maxRetries, and at once when Retry-After asks for more than maxDelayMs, throwing the problem', async (t) => {
    const stub = await standIn(t, [unavailable('0')]);
    const nexus = new NexusClient({ baseUrl: stub.base, token: 'nxc_x', retry: { maxRetries: 2 } });
    await assert.rejects(nexus.tickets.get('tick_1'), (e: unknown) => e instanceof NexusProblemError && e.status === 503 && e.code === 'unavailable');
    assert.equal(stub.received.length, 3, 'the first attempt and two retries');

    const slow = await standIn(t, [unavailable('3600')]);
    const patient = new NexusClient({ baseUrl: slow.base, token: 'nxc_x', retry: { maxDelayMs: 5_000 } });
    await assert.rejects(patient.tickets.get('tick_1'), (e: unknown) => e instanceof NexusProblemError && e.status === 503);
    assert.equal(slow.received.length, 1, 'an hour is longer than the client waits');
  });

  it('reads Retry-After as seconds or an HTTP date, and backs off exponentially without it', () => {
    const now = Date.parse('2026-01-15T10:00:00Z');
    assert.equal(retryDelayMs('7', 0, 500, 60_000, now), 7000);
    assert.equal(retryDelayMs('Thu, 15 Jan 2026 10:00:30 GMT', 0, 500, 60_000, now), 30_000);
    assert.equal(retryDelayMs('Thu, 15 Jan 2026 09:00:00 GMT', 0, 500, 60_000, now), 0, 'a date in the past: at once');
    for (let retry = 0; retry < 8; retry++) {
      const delay = retryDelayMs(null, retry, 500, 10_000, now);
      assert.ok(delay >= 0 && delay <= Math.min(10_000, 500 * 2 ** retry), `retry ${retry}: ${delay}`);
    }
  });
});
