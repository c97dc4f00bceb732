import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { type TestApp, build, buildTestApp, removeDataDir } from '../helpers/app.js';
import type { Principal } from '../../src/auth/scopes.js';
import type { CreateTicketInput } from '../../src/tickets/service.js';
import { createBrand, createTicket, ticketBody } from '../helpers/factories.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A ticket's fields and conversation are stored as the retrieve route writes them, by ticket
 * version (src/tickets/stored-representations.ts): a read in another process, or of a ticket no
 * cache holds, answers from the stored row. It must never answer from a row of another version.
 */

async function storedRow(t: TestApp, ticketId: string) {
  return t.runtime.db.selectFrom('ticket_representations').selectAll().where('ticket_id', '=', ticketId).executeTakeFirst();
}

async function waitForStored(t: TestApp, ticketId: string, version: number) {
  return waitFor(`the JSON of ${ticketId} at version ${version} is stored`, 60_000, async () => {
    const row = await storedRow(t, ticketId);
    return row && row.version === version ? row : undefined;
  });
}

/** Apps opened on one data dir, closed (those still open) and the dir removed when the test ends. */
function sharedDataDir(t: { after(fn: () => Promise<void>): void }) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-stored-'));
  const open = new Set<TestApp>();
  t.after(async () => {
    for (const app of open) await app.close();
    await removeDataDir(dataDir);
  });
  return {
    dataDir,
    async open(): Promise<TestApp> {
      const app = await buildTestApp({ dataDir });
      open.add(app);
      return app;
    },
    async close(app: TestApp): Promise<void> {
      open.delete(app);
      await app.close();
    },
  };
}

const versionOf = (etag: string | string[] | undefined) => Number(/^"v(\d+)"$/.exec(String(etag))![1]);

it('a write stores the ticket’s JSON, and a read in a new process answers from it while the version stands', async (t) => {
  const apps = sharedDataDir(t);
  const first = await apps.open();
  const brand = await createBrand(first);
  const ticket = await createTicket(first, brand.id, { description: 'Printer says "paper jam" — ünïcode ✓', tags: ['a'] });
  const reply = await first.request({
    method: 'POST',
    url: `/v1/tickets/${ticket.id}/messages`,
    body: { author_type: 'agent', body: 'On it', author: { email: 'agent@example.com', name: 'Agent' } },
  });
  assert.equal(reply.statusCode, 201, reply.body);
  // No read yet: the reply named the ticket, and its JSON is stored when the process has time.
  const versionAfterReply = (await first.runtime.db.selectFrom('tickets').select('version').where('id', '=', ticket.id).executeTakeFirstOrThrow()).version;
  const row = await waitForStored(first, ticket.id, versionAfterReply);
  const served = await first.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` });
  assert.equal(served.statusCode, 200, served.body);
  const document = served.json();
  const { queue: _queue, messages, participants, audit_trail, ...fields } = document;
  assert.deepEqual(JSON.parse(row.fields.toString()), fields);
  assert.deepEqual(JSON.parse(row.conversation.toString()), { messages, participants, audit_trail });
  await apps.close(first);

  const second = await apps.open();
  const again = await second.request({ method: 'GET', url: `/v1/tickets/${ticket.id}`, token: first.adminToken });
  assert.equal(again.statusCode, 200, again.body);
  assert.equal(again.body, served.body, 'the stored JSON, byte for byte what a build writes');

  // Proof that the new process read the stored row: one changed in place (same version) is what it
  // answers once its caches are past (a new process again). A write moves the version: never again.
  const doctored = { messages: [], participants: [], audit_trail: [] };
  await second.runtime.db
    .updateTable('ticket_representations')
    .set({ conversation: Buffer.from(JSON.stringify(doctored)) })
    .where('ticket_id', '=', ticket.id)
    .execute();
  const third = await apps.open();
  const fromRow = (await third.request({ method: 'GET', url: `/v1/tickets/${ticket.id}`, token: first.adminToken })).json();
  assert.deepEqual(fromRow.messages, [], 'answered from the stored row');
  const patch = await third.request({ method: 'PATCH', url: `/v1/tickets/${ticket.id}`, body: { priority: 'high' }, token: first.adminToken });
  assert.equal(patch.statusCode, 200, patch.body);
  const afterWrite = await third.request({ method: 'GET', url: `/v1/tickets/${ticket.id}`, token: first.adminToken });
  assert.equal(afterWrite.statusCode, 200, afterWrite.body);
  const fresh = afterWrite.json();
  assert.equal(fresh.priority, 'high');
  assert.deepEqual(
    fresh.messages.map((m: { body: string }) => m.body),
    ['Printer says "paper jam" — ünïcode ✓', 'On it'],
  );
  assert.equal(fresh.audit_trail.length, 3);
  assert.equal(versionOf(afterWrite.headers.etag), versionAfterReply + 1);
});

it('a read stores what it built; rows of another version are refused, rows of another shape are not served', async (t) => {
  const apps = sharedDataDir(t);
  const app = await apps.open();
  const brand = await createBrand(app);
  const ticket = await createTicket(app, brand.id, { description: 'Hello' });
  const res = await app.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` });
  assert.equal(res.statusCode, 200, res.body);
  const version = versionOf(res.headers.etag);
  const row = await waitForStored(app, ticket.id, version);

  // The table's trigger refuses JSON of a version the ticket is not at: nothing is stored.
  await app.runtime.db.deleteFrom('ticket_representations').where('ticket_id', '=', ticket.id).execute();
  for (const stale of [version - 1, version + 1]) {
    await app.runtime.db
      .insertInto('ticket_representations')
      .values({ ...row, version: stale })
      .execute();
    assert.equal(await storedRow(app, ticket.id), undefined, `version ${stale} refused`);
  }

  // A row of another shape (another release's schemas) at the right version is never served.
  await app.runtime.db
    .insertInto('ticket_representations')
    .values({ ...row, shape: 'another-release', conversation: Buffer.from('{"messages":[],"participants":[],"audit_trail":[]}') })
    .execute();
  const restarted = await apps.open();
  const read = await restarted.request({ method: 'GET', url: `/v1/tickets/${ticket.id}`, token: app.adminToken });
  assert.equal(read.statusCode, 200, read.body);
  assert.deepEqual(
    read.json().messages.map((m: { body: string }) => m.body),
    ['Hello'],
  );
});

it('a customer’s erasure leaves none of the person in the stored JSON', async (t) => {
  const app = await build(t);
  const brand = await createBrand(app);
  const email = 'erase.me.stored@example.com';
  const ticket = await createTicket(app, brand.id, { subject: 'Stored Zelda', description: 'I am Zelda Stored', customer: { email, name: 'Zelda Stored' } });
  const res = await app.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` });
  assert.equal(res.statusCode, 200, res.body);
  const row = await waitForStored(app, ticket.id, versionOf(res.headers.etag));
  assert.match(row.fields.toString() + row.conversation.toString(), /Zelda Stored/);

  const customer = (await app.request({ method: 'GET', url: `/v1/customers?brand_id=${brand.id}&email=${encodeURIComponent(email)}` })).json().data[0];
  const erased = await app.request({ method: 'POST', url: `/v1/customers/${customer.id}/erase` });
  assert.equal(erased.statusCode, 200, erased.body);
  const after = await storedRow(app, ticket.id);
  assert.ok(!after || !/Zelda Stored|erase\.me/.test(after.fields.toString() + after.conversation.toString()), 'nothing of the person stored');
  const read = await app.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` });
  assert.doesNotMatch(read.body, /Zelda Stored|erase\.me/);
});

it('tickets written where no route names them (the bulk path here) are stored by the sweep, window after window', async (t) => {
  const app = await build(t);
  const brand = await createBrand(app);
  const admin: Principal = { tokenId: 'test', tokenName: 'test', scopes: ['admin'], brandIds: null };
  // More than one sweep window (256 tickets), written by the service alone: nothing names them.
  const created = await app.runtime.services.tickets.createMany(
    admin,
    Array.from({ length: 300 }, (_, i) => ticketBody(brand.id, { subject: `Bulk ${i}` }) as unknown as CreateTicketInput),
  );
  const ids = created.map((c) => c.id);
  const storedCount = async () =>
    (
      await app.runtime.db
        .selectFrom('ticket_representations as r')
        .innerJoin('tickets as t', (join) => join.onRef('t.id', '=', 'r.ticket_id').onRef('t.version', '=', 'r.version'))
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('r.ticket_id', 'in', ids)
        .executeTakeFirstOrThrow()
    ).n;
  assert.equal(Number(await storedCount()), 0, 'nothing stored before any request');
  // The first request that serializes a ticket starts the sweep.
  const first = await app.request({ method: 'GET', url: `/v1/tickets/${ids[0]}` });
  assert.equal(first.statusCode, 200, first.body);
  await waitFor('every ticket of the bulk write is stored at its version', 120_000, async () => Number(await storedCount()) === ids.length || undefined);
  const last = ids.at(-1)!;
  const row = await storedRow(app, last);
  const read = await app.request({ method: 'GET', url: `/v1/tickets/${last}` });
  assert.equal(read.statusCode, 200, read.body);
  const { queue: _queue, messages, participants, audit_trail, ...fields } = read.json();
  assert.deepEqual(JSON.parse(row!.fields.toString()), fields);
  assert.deepEqual(JSON.parse(row!.conversation.toString()), { messages, participants, audit_trail });
});

it('a bulk change and a merge name the tickets they write: each is stored at its new version', async (t) => {
  const app = await build(t);
  const brand = await createBrand(app);
  const tickets: Awaited<ReturnType<typeof createTicket>>[] = [];
  for (let i = 0; i < 3; i++) tickets.push(await createTicket(app, brand.id, { subject: `Bulk named ${i}` }));
  const versionsOf = async () =>
    new Map(
      (
        await app.runtime.db
          .selectFrom('tickets')
          .select(['id', 'version'])
          .where(
            'id',
            'in',
            tickets.map((x) => x.id),
          )
          .execute()
      ).map((r) => [r.id, Number(r.version)]),
    );
  // Stored once as created: from here on, only a route that names a ticket gets it stored again
  // soon (the next sweep is minutes away).
  for (const [id, version] of await versionsOf()) await waitForStored(app, id, version);

  const bulk = await app.request({
    method: 'POST',
    url: '/v1/tickets/bulk',
    body: { ids: [tickets[0]!.id, tickets[1]!.id, 'tick_missing'], change: { priority: 'urgent' } },
  });
  assert.equal(bulk.statusCode, 200, bulk.body);
  assert.deepEqual(
    bulk.json().results.map((r: { status: number }) => r.status),
    [200, 200, 404],
  );
  const afterBulk = await versionsOf();
  for (const id of [tickets[0]!.id, tickets[1]!.id]) {
    const row = await waitForStored(app, id, afterBulk.get(id)!);
    assert.equal(JSON.parse(row.fields.toString()).priority, 'urgent');
  }

  const merge = await app.request({ method: 'POST', url: `/v1/tickets/${tickets[1]!.id}/merge`, body: { into: tickets[2]!.id } });
  assert.equal(merge.statusCode, 200, merge.body);
  const afterMerge = await versionsOf();
  const source = await waitForStored(app, tickets[1]!.id, afterMerge.get(tickets[1]!.id)!);
  assert.equal(JSON.parse(source.fields.toString()).merged_into, tickets[2]!.id);
  const target = await waitForStored(app, tickets[2]!.id, afterMerge.get(tickets[2]!.id)!);
  const read = await app.request({ method: 'GET', url: `/v1/tickets/${tickets[2]!.id}` });
  assert.equal(read.statusCode, 200, read.body);
  const { queue: _queue, messages, participants, audit_trail } = read.json();
  assert.equal(messages.length, 2, 'both conversations');
  assert.deepEqual(JSON.parse(target.conversation.toString()), { messages, participants, audit_trail });
});
