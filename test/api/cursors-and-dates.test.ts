/**
 * Inputs that used to be quietly rewritten (issue 9, defect 8): pagination cursors are signed by the
 * server and range-checked, so a tampered, truncated, made-up or foreign cursor is a 400
 * `invalid_cursor`; impossible calendar dates are refused (400 in queries, 422 in bodies) instead of
 * rolling over into another day.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, removeDataDir, type TestApp } from '../helpers/app.js';
import { assertProblem, countRows, createBrand, createTicket } from '../helpers/factories.js';

type CursorBody = { v: number; k: string; f: string; p: unknown[] };

/** Rewrites the JSON inside a cursor, keeping whatever signature it carried. */
function tamper(cursor: string, edit: (body: CursorBody) => void): string {
  const [payload, mac] = cursor.split('.');
  const body = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as CursorBody;
  edit(body);
  const forged = Buffer.from(JSON.stringify(body)).toString('base64url');
  return mac === undefined ? forged : `${forged}.${mac}`;
}

describe('pagination cursors are authenticated and range-checked', () => {
  let t: TestApp;
  let foreign: TestApp;
  let brand: { id: string; default_queue_id: string };
  let ticket: { id: string };
  before(async () => {
    t = await buildTestApp();
    foreign = await buildTestApp();
    brand = await createBrand(t);
    for (const priority of ['low', 'normal', 'urgent', 'high', 'normal']) {
      ticket = await createTicket(t, brand.id, { priority, subject: `Refund for order ${priority}` });
    }
    for (let i = 0; i < 3; i++) {
      await t.request({ method: 'POST', url: `/v1/tickets/${ticket.id}/messages`, body: { author_type: 'agent', body: `reply ${i}` } });
    }
    await createBrand(foreign);
    for (let i = 0; i < 3; i++) await createTicket(foreign, (await createBrand(foreign)).id);
  });
  after(async () => {
    await t.close();
    await foreign.close();
  });

  const get = async (app: TestApp, url: string) => {
    const res = await app.request({ method: 'GET', url });
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    return res.json();
  };
  const queueUrl = () => `/v1/queues/${brand.default_queue_id}/tickets?limit=2`;

  it('a queue cursor whose position was rewritten is a 400, not a page at position -999 or 1e+308', async () => {
    const first = await get(t, queueUrl());
    assert.deepEqual(
      first.data.map((x: { position: number }) => x.position),
      [1, 2],
    );
    const cursor: string = first.next_cursor;
    for (const p of [
      [-1, '', -1000],
      [0, first.data[1].id, 1e308],
      [0, first.data[1].id, 1.5],
      [7, first.data[1].id, 2],
    ]) {
      const res = await t.request({ method: 'GET', url: `${queueUrl()}&after=${tamper(cursor, (b) => (b.p = p))}` });
      assertProblem(res, 400, 'invalid_cursor');
    }
    const second = await get(t, `${queueUrl()}&after=${cursor}`);
    assert.deepEqual(
      second.data.map((x: { position: number }) => x.position),
      [3, 4],
      'the genuine cursor still works',
    );
  });

  it('even a cursor signed with the server key is refused when a position value is out of range', async () => {
    // The key lives sealed in server_keys; opened with the deployment's secret box it signs cursors.
    const row = await t.runtime.db.selectFrom('server_keys').select('secret').where('name', '=', 'pagination-cursor-signing').executeTakeFirstOrThrow();
    assert.match(row.secret, /^v1\./, 'sealed at rest');
    const key = Buffer.from(t.runtime.secretBox.open(row.secret), 'base64');
    assert.equal(key.length, 32);
    assert.ok(!row.secret.includes(key.toString('hex')) && !row.secret.includes(key.toString('base64')) && !row.secret.includes(key.toString('base64url')));
    const sign = (body: CursorBody) => {
      const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
      return `${payload}.${createHmac('sha256', key).update(`nexus-cursor\n${payload}`).digest('base64url')}`;
    };
    const genuine = (await get(t, queueUrl())).next_cursor as string;
    const body = JSON.parse(Buffer.from(genuine.split('.')[0]!, 'base64url').toString('utf8')) as CursorBody;
    assert.equal(sign(body), genuine, 'the test signs exactly as the server does');
    assertProblem(await t.request({ method: 'GET', url: `${queueUrl()}&after=${sign({ ...body, p: [-1, '', -1000] })}` }), 400, 'invalid_cursor');
    assertProblem(await t.request({ method: 'GET', url: `${queueUrl()}&after=${sign({ ...body, p: [0, body.p[1], 1e308] })}` }), 400, 'invalid_cursor');
  });

  it('every paginated list refuses tampered, truncated, made-up, cross-list and foreign cursors, and still takes its own', async () => {
    const hook = (await t.request({ method: 'POST', url: '/v1/webhooks', body: { url: 'https://hooks.example.com/x', events: ['ticket.created'] } })).json();
    await t.request({ method: 'POST', url: '/v1/webhooks', body: { url: 'https://hooks.example.com/y', events: ['*'] } });
    for (let i = 0; i < 3; i++) assert.equal((await t.request({ method: 'POST', url: `/v1/webhooks/${hook.id}/test` })).statusCode, 202);
    const lists: { name: string; page: (after?: string) => ReturnType<TestApp['request']> }[] = [
      { name: 'tickets', page: (a) => t.request({ method: 'GET', url: `/v1/tickets?limit=2${a ? `&after=${a}` : ''}` }) },
      { name: 'queue tickets', page: (a) => t.request({ method: 'GET', url: `${queueUrl()}${a ? `&after=${a}` : ''}` }) },
      { name: 'messages', page: (a) => t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}/messages?limit=1${a ? `&after=${a}` : ''}` }) },
      { name: 'audit', page: (a) => t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}/audit?limit=1${a ? `&after=${a}` : ''}` }) },
      { name: 'events', page: (a) => t.request({ method: 'GET', url: `/v1/events?limit=2${a ? `&after=${a}` : ''}` }) },
      { name: 'webhooks', page: (a) => t.request({ method: 'GET', url: `/v1/webhooks?limit=1${a ? `&after=${a}` : ''}` }) },
      { name: 'deliveries', page: (a) => t.request({ method: 'GET', url: `/v1/webhooks/${hook.id}/deliveries?limit=1${a ? `&after=${a}` : ''}` }) },
      {
        name: 'search',
        page: (a) =>
          t.request({ method: 'POST', url: '/v1/tickets/search', body: { query: 'refund order', mode: 'keyword', limit: 1, ...(a ? { after: a } : {}) } }),
      },
    ];
    const cursors = new Map<string, string>();
    for (const list of lists) {
      const res = await list.page();
      assert.equal(res.statusCode, 200, `${list.name}: ${res.body}`);
      const cursor = res.json().next_cursor as string;
      assert.equal(typeof cursor, 'string', `${list.name} has a second page`);
      assert.ok(cursor.length <= 2048 && /^[A-Za-z0-9_.-]+$/.test(cursor), `${list.name} cursor stays an opaque URL-safe string`);
      cursors.set(list.name, cursor);
    }
    const before = { tickets: await countRows(t, 'tickets'), events: await countRows(t, 'events') };
    for (const list of lists) {
      const cursor = cursors.get(list.name)!;
      const flipped = cursor.replace(/^./, (c) => (c === 'e' ? 'f' : 'e'));
      const bad = [
        ['truncated', cursor.slice(0, -1)],
        ['cut at the signature', cursor.split('.')[0]!],
        ['one character changed', flipped],
        ['position rewritten', tamper(cursor, (b) => (b.p = b.p.map((x) => (typeof x === 'number' ? -1000 : 'tick_00000000000000000000000000'))))],
        ['made up', Buffer.from(JSON.stringify({ v: 1, k: 'tickets', f: 'x', p: [0] })).toString('base64url')],
        ...[...cursors].filter(([other]) => other !== list.name).map(([other, c]) => [`from the ${other} list`, c]),
      ];
      for (const [why, value] of bad) {
        const res = await list.page(value);
        assertProblem(res, 400, 'invalid_cursor');
        assert.match(res.json().detail, /cursor/, `${list.name}: ${why}`);
      }
      assert.equal((await list.page(cursor)).statusCode, 200, `${list.name}: its own cursor works`);
    }
    assert.deepEqual({ tickets: await countRows(t, 'tickets'), events: await countRows(t, 'events') }, before);

    // Another deployment (its own database and keys) issues cursors for the same lists with the
    // same filters: they are not valid here.
    for (const url of ['/v1/tickets?limit=1', '/v1/events?limit=1']) {
      const theirs = (await get(foreign, url)).next_cursor as string;
      assertProblem(await t.request({ method: 'GET', url: `${url}&after=${theirs}` }), 400, 'invalid_cursor');
    }
  });
});

describe('the cursor key is shared by every process on one database', () => {
  it('a cursor issued by one server is accepted by another on the same database and secret', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-cursor-'));
    const apps: TestApp[] = [];
    try {
      apps.push(await buildTestApp({ dataDir }));
      const brand = await createBrand(apps[0]!);
      for (let i = 0; i < 3; i++) await createTicket(apps[0]!, brand.id);
      apps.push(await buildTestApp({ dataDir }));
      const [a, b] = apps as [TestApp, TestApp];
      const first = (await a.request({ method: 'GET', url: '/v1/tickets?limit=2' })).json();
      const second = await b.request({ method: 'GET', url: `/v1/tickets?limit=2&after=${first.next_cursor}` });
      assert.equal(second.statusCode, 200, second.body);
      assert.equal(second.json().data.length, 1);
      const keys = await a.runtime.db.selectFrom('server_keys').select('name').where('name', '=', 'pagination-cursor-signing').execute();
      assert.equal(keys.length, 1, 'one key, made once');
    } finally {
      for (const app of apps) await app.close();
      await removeDataDir(dataDir);
    }
  });
});

describe('impossible calendar dates are refused, never rolled over', () => {
  let t: TestApp;
  let brand: string;
  before(async () => {
    t = await buildTestApp();
    brand = (await createBrand(t)).id;
  });
  after(() => t.close());

  const impossible = [
    '2025-02-30',
    '2025-13-01',
    '2025-00-10',
    '2025-04-31',
    '2023-02-29',
    '2100-02-29',
    '2025-01-01T24:00:00Z',
    '2025-01-01T23:60:00Z',
    '2016-12-31T23:59:60Z',
    '2025-03-01T10:00:00+24:00',
    '9999-12-31T23:00:00-05:00',
  ];

  it('in query parameters: 400 invalid_query naming the parameter', async () => {
    await createTicket(t, brand);
    for (const name of ['created_after', 'created_before']) {
      for (const value of impossible) {
        const res = await t.request({ method: 'GET', url: `/v1/tickets?${name}=${encodeURIComponent(value)}` });
        const problem = assertProblem(res, 400, 'invalid_query');
        assert.deepEqual(
          problem.errors.map((e: { pointer: string }) => e.pointer),
          [name],
          value,
        );
      }
    }
    // Real days still work, leap days of leap years included.
    for (const value of ['2024-02-29', '2000-02-29', '2025-12-31T23:59:59Z', '2025-06-01T10:00+02:00']) {
      assert.equal((await t.request({ method: 'GET', url: `/v1/tickets?created_after=${encodeURIComponent(value)}` })).statusCode, 200, value);
    }
    const all = (await t.request({ method: 'GET', url: '/v1/tickets?created_after=2024-02-29' })).json().data;
    assert.equal(all.length, 1);
  });

  it('in bodies: 422 naming the field, and nothing changes', async () => {
    const ticket = await createTicket(t, brand);
    const before = {
      tickets: await countRows(t, 'tickets'),
      messages: await countRows(t, 'messages'),
      tokens: await countRows(t, 'tokens'),
      audit: await countRows(t, 'audit_entries'),
    };
    for (const value of impossible) {
      const search = await t.request({ method: 'POST', url: '/v1/tickets/search', body: { query: 'refund', filters: { created_after: value } } });
      assert.deepEqual(
        assertProblem(search, 422, 'validation_failed').errors.map((e: { pointer: string }) => e.pointer),
        ['/filters/created_after'],
        value,
      );
    }
    for (const value of impossible.filter((v) => v.includes('T'))) {
      const snooze = await t.request({ method: 'PATCH', url: `/v1/tickets/${ticket.id}`, body: { status: 'snoozed', snoozed_until: value } });
      assert.ok(
        assertProblem(snooze, 422, 'validation_failed').errors.some((e: { pointer: string }) => e.pointer === '/snoozed_until'),
        value,
      );
      const message = await t.request({
        method: 'POST',
        url: `/v1/tickets/${ticket.id}/messages`,
        body: { author_type: 'customer', body: 'x', created_at: value },
      });
      assert.ok(
        assertProblem(message, 422, 'validation_failed').errors.some((e: { pointer: string }) => e.pointer === '/created_at'),
        value,
      );
      const token = await t.request({ method: 'POST', url: '/v1/tokens', body: { name: 'x', scopes: ['tickets:read'], expires_at: value } });
      assert.ok(
        assertProblem(token, 422, 'validation_failed').errors.some((e: { pointer: string }) => e.pointer === '/expires_at'),
        value,
      );
    }
    assert.deepEqual(
      {
        tickets: await countRows(t, 'tickets'),
        messages: await countRows(t, 'messages'),
        tokens: await countRows(t, 'tokens'),
        audit: await countRows(t, 'audit_entries'),
      },
      before,
    );
    assert.equal((await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).json().status, 'open');
  });

  it('the OpenAPI document says which dates are accepted', async () => {
    const doc = (await t.request({ method: 'GET', url: '/v1/openapi.json' })).json();
    const param = doc.paths['/v1/tickets'].get.parameters.find((p: { name: string }) => p.name === 'created_after');
    assert.equal(param.schema.format, 'date-or-date-time');
    assert.match(param.description ?? param.schema.description, /2025-02-30/);
    const search = doc.paths['/v1/tickets/search'].post.requestBody.content['application/json'].schema;
    assert.equal(search.properties.filters.properties.created_before.format, 'date-or-date-time');
  });
});
