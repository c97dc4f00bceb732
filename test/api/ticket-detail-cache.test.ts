import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type TestContext, it } from 'node:test';
import type { Principal } from '../../src/auth/scopes.js';
import { type TestApp, build, removeDataDir } from '../helpers/app.js';
import { assertProblem, createBrand, createTicket } from '../helpers/factories.js';

/** Reading a ticket reuses its conversation while its version stands: every change must show at once. */
it('a ticket read again after each kind of change shows the change', async (t) => {
  const app = await build(t);
  const brand = await createBrand(app);
  const ticket = await createTicket(app, brand.id, { description: 'First words' });
  const read = async () => {
    const res = await app.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` });
    assert.equal(res.statusCode, 200, res.body);
    return res.json();
  };
  assert.equal((await read()).messages.length, 1);
  assert.equal((await read()).messages.length, 1);

  const reply = await app.request({
    method: 'POST',
    url: `/v1/tickets/${ticket.id}/messages`,
    body: { author_type: 'agent', body: 'On it', author: { email: 'agent@example.com', name: 'Agent' } },
  });
  assert.equal(reply.statusCode, 201, reply.body);
  let detail = await read();
  assert.deepEqual(
    detail.messages.map((m: { body: string }) => m.body),
    ['First words', 'On it'],
  );
  assert.ok(detail.participants.some((p: { email: string; role: string }) => p.email === 'agent@example.com' && p.role === 'agent'));
  assert.equal(detail.audit_trail.length, 2);

  const patch = await app.request({ method: 'PATCH', url: `/v1/tickets/${ticket.id}`, body: { assigned_to: 'owner@example.com', status: 'pending' } });
  assert.equal(patch.statusCode, 200, patch.body);
  detail = await read();
  assert.equal(detail.status, 'pending');
  assert.ok(detail.participants.some((p: { email: string; role: string }) => p.email === 'owner@example.com' && p.role === 'assignee'));
  assert.equal(detail.audit_trail.length, 3);
  assert.equal(detail.audit_trail[2].action, 'ticket.updated');
  assert.equal(detail.queue.position, null);
});

/**
 * The route joins the ticket's fields (serialized per read) to its conversation (serialized once per
 * version): the result must be the document the whole detail schema gives, in its property order.
 */
it('the joined response is the detail document, field for field and in order, cached or not', async (t) => {
  const app = await build(t);
  const brand = await createBrand(app);
  const ticket = await createTicket(app, brand.id, { description: 'Printer says "paper jam" — ünïcode ✓', tags: ['a', 'b'] });
  const reply = await app.request({
    method: 'POST',
    url: `/v1/tickets/${ticket.id}/messages`,
    body: { author_type: 'agent', body: 'Line one\nline two', author: { email: 'agent@example.com', name: null } },
  });
  assert.equal(reply.statusCode, 201, reply.body);
  const expected = await app.runtime.services.tickets.get(null, ticket.id);
  const { etag, ...document } = expected;
  for (const round of ['first read', 'cached read']) {
    const res = await app.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` });
    assert.equal(res.statusCode, 200, `${round}: ${res.body}`);
    assert.match(String(res.headers['content-type']), /^application\/json; charset=utf-8$/);
    assert.equal(res.headers.etag, etag);
    const body = res.json();
    assert.deepEqual(body, JSON.parse(JSON.stringify(document)), round);
    assert.deepEqual(
      Object.keys(body),
      [
        ...Object.keys(document).filter((k) => k !== 'queue' && !['messages', 'participants', 'audit_trail'].includes(k)),
        'queue',
        'messages',
        'participants',
        'audit_trail',
      ],
      round,
    );
  }
});

/**
 * The list route keeps each ticket's item serialized by version: a page must be the one the service
 * lists, item for item, cached or not, and a ticket changed by any kind of write shows its change
 * in the next page, including a write made outside the HTTP app (another process, the workers).
 */
const operator: Principal = { tokenId: 'tok_list_cache', tokenName: 'list cache', scopes: ['admin'], brandIds: null };

it('a list page is the listed tickets, cached or not, and shows every change at once', async (t) => {
  const app = await build(t);
  const brand = await createBrand(app);
  const first = await createTicket(app, brand.id, { description: 'Quote "this" — ünïcode ✓', tags: ['a', 'b'] });
  const second = await createTicket(app, brand.id, { metadata: { plan: 'gold', seats: 3 } });
  const third = await createTicket(app, brand.id);
  const url = `/v1/tickets?brand_id=${brand.id}&limit=2`;
  const page = async (after?: string) => {
    const res = await app.request({ method: 'GET', url: after ? `${url}&after=${encodeURIComponent(after)}` : url });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^application\/json; charset=utf-8$/);
    return { body: res.json(), text: res.body };
  };
  const listed = await app.runtime.services.tickets.list(operator, { brand_id: brand.id, limit: 2 } as never);
  for (const round of ['first read', 'cached read']) {
    const { body, text } = await page();
    assert.deepEqual(
      body.data.map((x: { id: string }) => x.id),
      [third.id, second.id],
      round,
    );
    assert.deepEqual(body.data, JSON.parse(JSON.stringify(listed.data)), round);
    assert.deepEqual(Object.keys(body), ['data', 'next_cursor']);
    assert.deepEqual(Object.keys(body.data[0]), Object.keys(listed.data[0]!), `${round}: the schema's property order`);
    assert.equal(typeof body.next_cursor, 'string');
    const rest = await page(body.next_cursor);
    assert.deepEqual(
      rest.body.data.map((x: { id: string }) => x.id),
      [first.id],
    );
    assert.equal(rest.body.next_cursor, null);
    assert.ok(!text.includes('"version"'), 'the page has no field the schema does not');
  }

  // A change through the API, then one through the services alone (what another process does).
  const patch = await app.request({ method: 'PATCH', url: `/v1/tickets/${second.id}`, body: { priority: 'urgent', tags: ['x'] } });
  assert.equal(patch.statusCode, 200, patch.body);
  let item = (await page()).body.data.find((x: { id: string }) => x.id === second.id);
  assert.equal(item.priority, 'urgent');
  assert.deepEqual(item.tags, ['x']);
  await app.runtime.services.tickets.update(operator, second.id, { subject: 'Renamed elsewhere' });
  item = (await page()).body.data.find((x: { id: string }) => x.id === second.id);
  assert.equal(item.subject, 'Renamed elsewhere');
  const reply = await app.request({ method: 'POST', url: `/v1/tickets/${third.id}/messages`, body: { author_type: 'customer', body: 'A newer line' } });
  assert.equal(reply.statusCode, 201, reply.body);
  item = (await page()).body.data.find((x: { id: string }) => x.id === third.id);
  assert.equal(item.last_message_preview, 'A newer line');
});

/** Two apps on one database (as two server processes are), with two brands. */
async function twoProcessesOnOneDatabase(t: TestContext) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-kept-'));
  const one = await build(t, { dataDir });
  const two = await build(t, { dataDir });
  t.after(() => removeDataDir(dataDir));
  return { one, two, brand: await createBrand(one), otherBrand: await createBrand(one) };
}

/**
 * On SQLite the retrieve route keeps whole answers while nothing at all is committed to the
 * database (`committedVersion`): any commit, by this process or another, must show on the next read,
 * and a kept answer must be served only to callers that may see its ticket's brand.
 */
it('a kept answer gives way to any commit, from this process or another, and only its brand sees it', async (t) => {
  const { one, two, brand, otherBrand } = await twoProcessesOnOneDatabase(t);
  const ahead = await createTicket(one, brand.id, { priority: 'high' });
  const ticket = await createTicket(one, brand.id, { priority: 'high' });
  const read = async (app: TestApp, token?: string) => {
    const res = await app.request({ method: 'GET', url: `/v1/tickets/${ticket.id}`, ...(token ? { token } : {}) });
    assert.equal(res.statusCode, 200, res.body);
    return { body: res.json(), etag: res.headers.etag };
  };
  const first = await read(one);
  assert.deepEqual(await read(one), first, 'read again, unchanged');
  assert.equal(first.body.queue.position, 2);

  // Another process changes the ticket, then another ticket ahead of it in its queue.
  const patch = await two.request({ method: 'PATCH', url: `/v1/tickets/${ticket.id}`, body: { subject: 'Changed by the other process' } });
  assert.equal(patch.statusCode, 200, patch.body);
  let now = await read(one);
  assert.equal(now.body.subject, 'Changed by the other process');
  assert.equal(now.etag, patch.headers.etag);
  assert.notEqual(now.etag, first.etag);
  await read(one);
  const resolved = await two.request({ method: 'PATCH', url: `/v1/tickets/${ahead.id}`, body: { status: 'resolved' } });
  assert.equal(resolved.statusCode, 200, resolved.body);
  now = await read(one);
  assert.equal(now.body.queue.position, 1, 'the place moved with a change to another ticket');

  // This process's own write, through the services (as the workers write).
  await one.runtime.services.tickets.update(operator, ticket.id, { tags: ['kept-no-more'] });
  assert.deepEqual((await read(one)).body.tags, ['kept-no-more']);

  // Kept for the admin's read; a token of another brand is told the ticket does not exist. The
  // tokens are made and used first: making one, and recording its first use, are commits.
  const outsider = await one.token(['tickets:read'], [otherBrand.id]);
  const insider = await one.token(['tickets:read'], [brand.id]);
  for (const token of [outsider, insider]) assert.equal((await one.request({ method: 'GET', url: '/v1/tokens/me', token })).statusCode, 200);
  const kept = await read(one);
  assert.deepEqual(await read(one), kept);
  assertProblem(await one.request({ method: 'GET', url: `/v1/tickets/${ticket.id}`, token: outsider }), 404, 'not_found');
  assert.deepEqual(await read(one, insider), kept);
});

it('a kept list page gives way to any commit, and is served only to the token that read it', async (t) => {
  const { one, two, brand, otherBrand } = await twoProcessesOnOneDatabase(t);
  const mine = await createTicket(one, brand.id);
  const theirs = await createTicket(one, otherBrand.id);
  const restricted = await one.token(['tickets:read'], [brand.id]);
  assert.equal((await one.request({ method: 'GET', url: '/v1/tokens/me', token: restricted })).statusCode, 200);
  const ids = async (app: TestApp, token?: string) => {
    const res = await app.request({ method: 'GET', url: '/v1/tickets?status=open&limit=20', ...(token ? { token } : {}) });
    assert.equal(res.statusCode, 200, res.body);
    return res.json().data.map((x: { id: string }) => x.id);
  };
  assert.deepEqual(await ids(one), [theirs.id, mine.id]);
  assert.deepEqual(await ids(one), [theirs.id, mine.id], 'read again, unchanged');
  // The same URL with a token of one brand: its own page, not the admin's kept one.
  assert.deepEqual(await ids(one, restricted), [mine.id]);
  assert.deepEqual(await ids(one, restricted), [mine.id]);

  const resolved = await two.request({ method: 'PATCH', url: `/v1/tickets/${mine.id}`, body: { status: 'resolved' } });
  assert.equal(resolved.statusCode, 200, resolved.body);
  assert.deepEqual(await ids(one), [theirs.id], 'a change made by another process shows at once');
  assert.deepEqual(await ids(one, restricted), []);
  const fresh = await createTicket(two, brand.id);
  assert.deepEqual(await ids(one), [fresh.id, theirs.id]);
});
