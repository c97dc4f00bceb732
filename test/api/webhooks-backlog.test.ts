import assert from 'node:assert/strict';
import { it } from 'node:test';
import pino from 'pino';
import { onDispatchWork } from '../../src/events/signal.js';
import { createWebhookDispatcher } from '../../src/webhooks/dispatcher.js';
import { build, type TestApp, testPostgresUrl } from '../helpers/app.js';
import { createBrand, createTicket } from '../helpers/factories.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';

/** Three fan-out batches and a bit (the dispatcher reads 500 events a transaction). */
const BACKLOG = 1201;

type Counted = 'events' | 'event_dispatch_queue' | 'webhook_deliveries';
const countRows = async (t: TestApp, table: Counted) =>
  Number(
    (
      await t.runtime.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

/** Events marked for dispatch an hour ago, as a bulk import leaves them when no dispatcher ran. */
async function writeBacklog(t: TestApp): Promise<void> {
  const at = new Date(t.clock.now().getTime() - 3_600_000).toISOString();
  const ids = Array.from({ length: BACKLOG }, (_, i) => `evt_backlog${String(i).padStart(6, '0')}`);
  await t.runtime.db.transaction().execute(async (trx) => {
    for (let i = 0; i < ids.length; i += 200) {
      const chunk = ids.slice(i, i + 200);
      await trx
        .insertInto('events')
        .values(chunk.map((id) => ({ id, type: 'ticket.created', brand_id: null, ticket_id: null, data: '{}', created_at: at })))
        .execute();
      await trx
        .insertInto('event_dispatch_queue')
        .values(chunk.map((event_id) => ({ event_id, created_at: at })))
        .execute();
    }
  });
}

function dispatcherOf(t: TestApp) {
  return createWebhookDispatcher(
    { db: t.runtime.db, clock: t.clock, secretBox: t.runtime.secretBox, config: t.config, log: pino({ level: 'silent' }) },
    { pollIntervalMs: 60_000 },
  );
}

it('works through a backlog in batches, letting the event loop turn between them', async (ctx) => {
  const t = await build(ctx);
  const receiver = await startWebhookReceiver();
  ctx.after(() => receiver.close());
  await writeBacklog(t);
  // Enabled, so the events are read and matched; created after them, so none is owed to it.
  const created = await t.request({ method: 'POST', url: '/v1/webhooks', body: { url: receiver.url, events: ['ticket.created'] } });
  assert.equal(created.statusCode, 201, created.body);
  const queued = () => countRows(t, 'event_dispatch_queue');
  assert.equal(await queued(), BACKLOG);

  const dispatcher = dispatcherOf(t);
  ctx.after(() => dispatcher.stop({ graceMs: 0 }));
  dispatcher.wake();
  if (!testPostgresUrl) {
    // On SQLite every statement resolves without waiting for I/O: a callback queued now runs before
    // the fan-out is done only if the fan-out gives the loop a turn between batches, and a request
    // arriving meanwhile is read at that turn. (PostgreSQL's round trips turn the loop anyway.)
    await new Promise<void>((resolve) => setImmediate(resolve));
    const midway = await queued();
    assert.ok(midway > 0 && midway < BACKLOG, `some batches left at the first turn of the loop: ${midway}`);
  }
  await dispatcher.drain();
  assert.equal(await queued(), 0, 'every event unmarked');
  assert.equal(await countRows(t, 'webhook_deliveries'), 0, 'nothing owed to an endpoint made after the events');
  assert.equal(receiver.received.length, 0);
});

it('unmarks a backlog no endpoint is owed without losing the events', async (ctx) => {
  const t = await build(ctx);
  const eventsBefore = await countRows(t, 'events');
  await writeBacklog(t);
  const dispatcher = dispatcherOf(t);
  ctx.after(() => dispatcher.stop({ graceMs: 0 }));
  await dispatcher.drain();
  assert.equal(await countRows(t, 'event_dispatch_queue'), 0, 'every event unmarked');
  assert.equal(await countRows(t, 'webhook_deliveries'), 0);
  assert.equal(await countRows(t, 'events'), eventsBefore + BACKLOG, 'the events themselves are kept');
});

it('marks events for fan-out only while some endpoint is enabled (SQLite), and keeps every event', async (ctx) => {
  const t = await build(ctx);
  const brand = await createBrand(t);
  // PostgreSQL marks every event: its writers are not serialized, so a check could miss an
  // endpoint being enabled meanwhile; the dispatcher unmarks what no endpoint is owed.
  const marksEveryEvent = Boolean(testPostgresUrl);
  const events = () => countRows(t, 'events');
  const marks = () => countRows(t, 'event_dispatch_queue');
  // The nudge that wakes this process's dispatchers: raised only for a marked event.
  let wakes = 0;
  ctx.after(onDispatchWork(() => wakes++));

  const before = await events();
  await createTicket(t, brand.id);
  assert.equal(await events(), before + 1, 'the ticket.created event is written');
  assert.equal(await marks(), marksEveryEvent ? 1 : 0, 'no endpoint: nothing to fan out');
  assert.equal(wakes, marksEveryEvent ? 1 : 0, 'no endpoint: no dispatcher woken');

  const hook = await t.request({ method: 'POST', url: '/v1/webhooks', body: { url: 'https://hooks.example.com/in', events: ['ticket.created'] } });
  assert.equal(hook.statusCode, 201, hook.body);
  const wakesBefore = wakes;
  await createTicket(t, brand.id);
  assert.equal(await marks(), marksEveryEvent ? 2 : 1, 'an enabled endpoint: the event awaits fan-out');
  assert.equal(wakes, wakesBefore + 1, 'and a dispatcher is woken');

  const disabled = await t.request({ method: 'PATCH', url: `/v1/webhooks/${hook.json().id}`, body: { enabled: false } });
  assert.equal(disabled.statusCode, 200, disabled.body);
  await createTicket(t, brand.id);
  assert.equal(await marks(), marksEveryEvent ? 3 : 1, 'only a disabled endpoint: not marked');
  assert.equal(await events(), before + 3, 'every event is kept for GET /v1/events');
});
