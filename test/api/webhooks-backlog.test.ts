import assert from 'node:assert/strict';
import { it } from 'node:test';
import pino from 'pino';
import { createWebhookDispatcher } from '../../src/webhooks/dispatcher.js';
import { build, testPostgresUrl } from '../helpers/app.js';

/** Three fan-out batches and a bit (the dispatcher takes 500 events a transaction). */
const BACKLOG = 1201;

type Counted = 'events' | 'event_dispatch_queue' | 'webhook_deliveries';

it('works through a backlog of events no endpoint is owed in batches, letting the event loop turn between them', async (ctx) => {
  const t = await build(ctx);
  const countRows = async (table: Counted) =>
    Number(
      (
        await t.runtime.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const eventsBefore = await countRows('events');
  // As a bulk import leaves them: events marked for dispatch while no dispatcher ran.
  const at = new Date().toISOString();
  const ids = Array.from({ length: BACKLOG }, (_, i) => `evt_backlog${String(i).padStart(6, '0')}`);
  for (let i = 0; i < ids.length; i += 200) {
    const chunk = ids.slice(i, i + 200);
    await t.runtime.db
      .insertInto('events')
      .values(chunk.map((id) => ({ id, type: 'ticket.created', brand_id: null, ticket_id: null, data: '{}', created_at: at })))
      .execute();
    await t.runtime.db
      .insertInto('event_dispatch_queue')
      .values(chunk.map((event_id) => ({ event_id, created_at: at })))
      .execute();
  }
  const queued = () => countRows('event_dispatch_queue');
  assert.equal(await queued(), BACKLOG);

  const dispatcher = createWebhookDispatcher(
    { db: t.runtime.db, clock: t.clock, secretBox: t.runtime.secretBox, config: t.config, log: pino({ level: 'silent' }) },
    { pollIntervalMs: 60_000 },
  );
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
  assert.equal(await countRows('webhook_deliveries'), 0, 'no delivery for an endpoint that does not exist');
  assert.equal(await countRows('events'), eventsBefore + BACKLOG, 'the events themselves are kept');
});
