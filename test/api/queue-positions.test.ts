import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Migrator, sql } from 'kysely';
import { migrations } from '../../src/db/migrations/index.js';
import { openDatabase } from '../../src/db/open.js';
import { nodesToSum, positionKey } from '../../src/queues/position-index.js';
import { build, buildTestApp, removeDataDir, type TestApp, testPostgresUrl } from '../helpers/app.js';
import { createBrand, createTicket } from '../helpers/factories.js';

/** Positions by their definition, counted over the table: what the tree must always agree with. */
async function scannedPositions(t: TestApp, queueId: string): Promise<Map<string, number>> {
  const rows = await t.runtime.db
    .selectFrom('tickets')
    .select(['id', 'priority_rank', 'queue_seq'])
    .where('queue_id', '=', queueId)
    .where('status', '=', 'open')
    .where('assigned_to', 'is', null)
    .execute();
  rows.sort((a, b) => a.priority_rank - b.priority_rank || Number(a.queue_seq) - Number(b.queue_seq));
  return new Map(rows.map((r, i) => [r.id, i + 1]));
}

describe('queue positions', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it('stay exact through any mix of creates, updates, replies and queue moves', async () => {
    const brand = await createBrand(t);
    const vip = (await t.request({ method: 'POST', url: '/v1/queues', body: { brand_id: brand.id, name: 'VIP', match: { tags: ['vip'] } } })).json();
    const queues = [brand.default_queue_id, vip.id];
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const priorities = ['urgent', 'high', 'normal', 'low'] as const;
    const ids: string[] = [];
    for (let step = 0; step < 120; step++) {
      const roll = random();
      if (ids.length < 5 || roll < 0.35) {
        const ticket = await createTicket(t, brand.id, { priority: pick(priorities), tags: random() < 0.3 ? ['vip'] : [] });
        ids.push(ticket.id);
      } else if (roll < 0.8) {
        const body = pick([
          { status: pick(['open', 'pending', 'solved', 'closed'] as const) },
          { priority: pick(priorities) },
          { assigned_to: random() < 0.5 ? 'agent@example.com' : null },
          { tags: random() < 0.5 ? ['vip'] : ['other'] },
        ]);
        const res = await t.request({ method: 'PATCH', url: `/v1/tickets/${pick(ids)}`, body });
        // Some transitions are refused by the status rules (a closed ticket stays closed): that is fine here.
        assert.ok(res.statusCode === 200 || res.statusCode === 422, res.body);
      } else {
        const res = await t.request({ method: 'POST', url: `/v1/tickets/${pick(ids)}/messages`, body: { author_type: 'customer', body: 'any news?' } });
        assert.ok(res.statusCode === 201 || res.statusCode === 422, res.body);
      }
      if (step % 10 !== 9) continue;
      for (const queueId of queues) {
        const expected = await scannedPositions(t, queueId);
        for (const id of ids) {
          const got = (await t.request({ method: 'GET', url: `/v1/tickets/${id}` })).json().queue;
          if (got.id !== queueId) continue;
          assert.equal(got.position, expected.get(id) ?? null, `ticket ${id} at step ${step}`);
        }
        const listed: { id: string; position: number }[] = [];
        let cursor: string | null = null;
        do {
          const page: { data: { id: string; position: number }[]; next_cursor: string | null } = (
            await t.request({ method: 'GET', url: `/v1/queues/${queueId}/tickets?limit=3${cursor ? `&after=${cursor}` : ''}` })
          ).json();
          listed.push(...page.data);
          cursor = page.next_cursor;
        } while (cursor);
        assert.deepEqual(
          listed.map((x) => [x.id, x.position]),
          [...expected],
          'the listing shows every waiting ticket once, in order, numbered from 1',
        );
      }
    }
  });

  it('numbers a page by the queue as it is now when tickets left it since the previous page', async () => {
    const brand = await createBrand(t);
    const tickets = [];
    for (let i = 0; i < 6; i++) tickets.push(await createTicket(t, brand.id));
    const url = `/v1/queues/${brand.default_queue_id}/tickets?limit=3`;
    const first = (await t.request({ method: 'GET', url })).json();
    assert.deepEqual(
      first.data.map((x: { position: number }) => x.position),
      [1, 2, 3],
    );
    // The first ticket is picked up: everyone behind it moves one place up.
    await t.request({ method: 'PATCH', url: `/v1/tickets/${tickets[0].id}`, body: { assigned_to: 'agent@example.com' } });
    const second = (await t.request({ method: 'GET', url: `${url}&after=${first.next_cursor}` })).json();
    assert.deepEqual(
      second.data.map((x: { id: string }) => x.id),
      tickets.slice(3).map((x) => x.id),
    );
    assert.deepEqual(
      second.data.map((x: { position: number }) => x.position),
      [3, 4, 5],
    );
  });
});

it('stay exact across buckets when rows are written by plain SQL, as a process of an older release writes them', async (t) => {
  // The bucket tree is kept by triggers (migration 0025), whoever writes the row. Arrival numbers
  // are spread here so that a queue's tickets fall into many buckets of 1,024 keys, some sharing one.
  const app = await build(t);
  const brand = await createBrand(app);
  const vip = (await app.request({ method: 'POST', url: '/v1/queues', body: { brand_id: brand.id, name: 'VIP', match: { tags: ['vip'] } } })).json();
  const queues = [brand.default_queue_id, vip.id];
  const ids: string[] = [];
  for (let i = 0; i < 40; i++) ids.push((await createTicket(app, brand.id, { priority: ['urgent', 'high', 'normal', 'low'][i % 4] })).id);
  const db = app.runtime.db;
  let seed = 11;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const assertExact = async (when: string) => {
    for (const queueId of queues) {
      const expected = await scannedPositions(app, queueId);
      for (const id of ids) {
        const got = (await app.request({ method: 'GET', url: `/v1/tickets/${id}` })).json().queue;
        if (got.id === queueId) assert.equal(got.position, expected.get(id) ?? null, `ticket ${id} ${when}`);
      }
    }
  };
  for (const [i, id] of ids.entries()) {
    await db
      .updateTable('tickets')
      .set({ queue_seq: 1 + i * 300 + Math.floor(random() * 250) })
      .where('id', '=', id)
      .execute();
  }
  await assertExact('after the arrival numbers were spread');
  for (let round = 0; round < 3; round++) {
    for (const id of ids) {
      const roll = random();
      const set =
        roll < 0.2
          ? { assigned_to: random() < 0.5 ? 'agent@example.com' : null }
          : roll < 0.4
            ? { status: random() < 0.6 ? 'open' : 'pending' }
            : roll < 0.6
              ? { priority_rank: Math.floor(random() * 4) }
              : roll < 0.8
                ? { queue_id: queues[Math.floor(random() * 2)]! }
                : { subject: `renamed ${round}` };
      await db.updateTable('tickets').set(set).where('id', '=', id).execute();
    }
    await assertExact(`after round ${round} of plain updates`);
  }
  // A row inserted and deleted by plain SQL: counted while it waits, then no more.
  const copy = { ...(await db.selectFrom('tickets').selectAll().where('id', '=', ids[0]!).executeTakeFirstOrThrow()) };
  const inserted = { ...copy, id: 'tick_01jzzzzzzzzzzzzzzzzzzzzzzz', status: 'open', assigned_to: null, priority_rank: 0, queue_seq: 5, change_seq: -1 };
  await db.insertInto('tickets').values(inserted).execute();
  ids.push(inserted.id);
  await assertExact('after a plain insert');
  await db.deleteFrom('tickets').where('id', '=', inserted.id).execute();
  ids.pop();
  await assertExact('after a plain delete');
});

// The migration builds the trees from the tickets a database already holds.
describe('queue positions on an existing database', { skip: testPostgresUrl ? 'the migration is exercised on SQLite' : false }, () => {
  it('are numbered from the tickets waiting before the upgrade', async (t) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-positions-'));
    t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const opened = openDatabase({ dataDir });
    const migrator = new Migrator({ db: opened.db, provider: { getMigrations: async () => migrations } });
    const upTo = await migrator.migrateTo('0004-search');
    assert.ifError(upTo.error);
    // biome-ignore lint/suspicious/noExplicitAny: rows are written into the tables of an older schema, as a migration sees them
    const db = opened.db as unknown as import('kysely').Kysely<any>;
    const at = '2026-01-01T00:00:00Z';
    await db.insertInto('brands').values({ id: 'brand_01j00000000000000000000000', name: 'Old', created_at: at, updated_at: at }).execute();
    await db
      .insertInto('queues')
      .values({
        id: 'que_01j00000000000000000000000',
        brand_id: 'brand_01j00000000000000000000000',
        name: 'Default',
        match: null,
        sort_order: 0,
        is_default: 1,
        created_at: at,
        updated_at: at,
      })
      .execute();
    const ticket = (id: string, priority_rank: number, status = 'open', assigned_to: string | null = null) => ({
      id,
      brand_id: 'brand_01j00000000000000000000000',
      queue_id: 'que_01j00000000000000000000000',
      subject: id,
      description: '',
      status,
      priority: 'normal',
      priority_rank,
      assigned_to,
      tags: '[]',
      origin: 'api',
      customer_email: 'c@example.com',
      customer_name: null,
      metadata: '{}',
      snoozed_until: null,
      first_response_at: null,
      version: 1,
      created_at: at,
      updated_at: at,
    });
    await db
      .insertInto('tickets')
      .values([
        ticket('tick_01j00000000000000000000001', 2),
        ticket('tick_01j00000000000000000000002', 2, 'pending'),
        ticket('tick_01j00000000000000000000003', 0),
        ticket('tick_01j00000000000000000000004', 2),
        ticket('tick_01j00000000000000000000005', 2, 'open', 'x@example.com'),
      ])
      .execute();
    await opened.close();

    const app = await build(t, { dataDir, env: { NEXUS_DATA_DIR: dataDir } });
    const position = async (id: string) => (await app.request({ method: 'GET', url: `/v1/tickets/${id}` })).json().queue.position;
    assert.deepEqual(
      [
        await position('tick_01j00000000000000000000003'),
        await position('tick_01j00000000000000000000001'),
        await position('tick_01j00000000000000000000004'),
        await position('tick_01j00000000000000000000002'),
        await position('tick_01j00000000000000000000005'),
      ],
      [1, 2, 3, null, null],
    );
    // New tickets arrive behind the old ones.
    const fresh = await createTicket(app, 'brand_01j00000000000000000000000');
    assert.equal(fresh.queue.position, 4);
    // Migration 0022 moved the trees into a table clustered on (queue, node): one seek per node read.
    const { rows } = await sql<{ sql: string }>`select sql from sqlite_master where type = 'table' and name = 'queue_positions'`.execute(app.runtime.db);
    assert.match(rows[0]!.sql, /without rowid\s*$/i);
    // Migration 0025 built the bucket trees, which the positions above were read from.
    const built = await app.runtime.db
      .selectFrom('queue_position_buckets')
      .select((eb) => eb.fn.sum<number>('waiting').as('n'))
      .where('node', '=', 2 ** 24)
      .executeTakeFirstOrThrow();
    assert.equal(Number(built.n), 4);
  });
});

it('concurrent moves in one queue all succeed and leave exact positions', async (t) => {
  // On PostgreSQL two moves in one tree used to lock its nodes in opposite orders and deadlock.
  const app = await build(t);
  const brand = await createBrand(app);
  const ids: string[] = [];
  for (let i = 0; i < 24; i++) ids.push((await createTicket(app, brand.id, { priority: 'normal' })).id);
  const priorities = ['urgent', 'low', 'high', 'normal'] as const;
  const responses = await Promise.all(ids.map((id, i) => app.request({ method: 'PATCH', url: `/v1/tickets/${id}`, body: { priority: priorities[i % 4] } })));
  assert.deepEqual(
    responses.map((r) => r.statusCode),
    ids.map(() => 200),
  );
  const expected = await scannedPositions(app, brand.default_queue_id);
  for (const id of ids) {
    const res = await app.request({ method: 'GET', url: `/v1/tickets/${id}` });
    assert.equal(res.json().queue.position, expected.get(id), id);
  }
});

// Retrieving a ticket keeps its place by the queue's waiting_version (src/queues/place-cache.ts).
it('a place one process keeps follows the changes another process makes, and only those that move it', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-places-'));
  const one = await build(t, { dataDir });
  const two = await build(t, { dataDir });
  t.after(() => removeDataDir(dataDir));
  const brand = await createBrand(one);
  const queueId = brand.default_queue_id;
  const first = await createTicket(one, brand.id, { priority: 'normal' });
  const second = await createTicket(one, brand.id, { priority: 'normal' });
  const position = async (app: TestApp, id: string) => (await app.request({ method: 'GET', url: `/v1/tickets/${id}` })).json().queue.position;
  const version = async () =>
    Number((await one.runtime.db.selectFrom('queues').select('waiting_version').where('id', '=', queueId).executeTakeFirstOrThrow()).waiting_version);
  assert.equal(await position(one, second.id), 2);
  assert.equal(await position(one, second.id), 2);

  // The other process picks up the first ticket, then a new urgent one arrives ahead, then it is moved to low.
  const patch = (id: string, body: unknown) => two.request({ method: 'PATCH', url: `/v1/tickets/${id}`, body });
  assert.equal((await patch(first.id, { assigned_to: 'agent@example.com' })).statusCode, 200);
  assert.equal(await position(one, second.id), 1);
  const urgent = await createTicket(two, brand.id, { priority: 'urgent' });
  assert.equal(await position(one, second.id), 2);
  assert.equal((await patch(urgent.id, { priority: 'low' })).statusCode, 200);
  assert.equal(await position(one, second.id), 1);
  assert.equal(await position(one, urgent.id), 2);

  // Writes that move no place leave the version, so the kept places stay in use.
  const at = await version();
  assert.equal((await patch(second.id, { subject: 'Renamed' })).statusCode, 200);
  assert.equal((await patch(first.id, { priority: 'high' })).statusCode, 200);
  assert.equal(
    (await two.request({ method: 'POST', url: `/v1/tickets/${second.id}/messages`, body: { author_type: 'customer', body: 'any news?' } })).statusCode,
    201,
  );
  assert.equal(await version(), at);

  // A kept place is what is served while the version holds: with the tree's counts changed behind the
  // version's back, process one still answers from its kept place, and reads the tree again once the
  // version moves.
  const db = one.runtime.db;
  const row = await db.selectFrom('tickets').select(['priority_rank', 'queue_seq']).where('id', '=', second.id).executeTakeFirstOrThrow();
  const ahead = nodesToSum(positionKey(Number(row.priority_rank), Number(row.queue_seq)));
  assert.ok(ahead.length > 0);
  await db
    .insertInto('queue_position_buckets')
    .values(ahead.map((node) => ({ queue_id: queueId, node, waiting: 10 })))
    .onConflict((oc) => oc.columns(['queue_id', 'node']).doUpdateSet((eb) => ({ waiting: eb('queue_position_buckets.waiting', '+', 10) })))
    .execute();
  assert.equal(await position(one, second.id), 1);
  await db
    .updateTable('queues')
    .set((eb) => ({ waiting_version: eb('waiting_version', '+', 1) }))
    .where('id', '=', queueId)
    .execute();
  assert.notEqual(await position(one, second.id), 1);
});
