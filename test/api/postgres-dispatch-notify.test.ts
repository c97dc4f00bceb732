/**
 * On PostgreSQL a change's events, their dispatch marks and the dispatchers' notification are one
 * statement (src/events/store.ts, `insertEventsForDispatch`): this checks that all three happen,
 * and that a change's events make one notification.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { DISPATCH_CHANNEL } from '../../src/events/store.js';
import { build, testPostgresUrl } from '../helpers/app.js';
import { createBrand, createTicket } from '../helpers/factories.js';

describe('PostgreSQL: events, their dispatch marks and the notification', {
  skip: testPostgresUrl ? false : 'needs NEXUS_TEST_DATABASE_URL (npm run test:postgres)',
}, () => {
  it('a change writes its events and their marks, and notifies the dispatchers once', async (t) => {
    const app = await build(t);
    const ticketId = (await createTicket(app, (await createBrand(app)).id, { subject: 'Ring the bell' })).id;

    const listener = new pg.Client({ connectionString: app.config.databaseUrl });
    // The test database is dropped at the end, its connections terminated: this one's too.
    listener.on('error', () => {});
    await listener.connect();
    t.after(() => listener.end().catch(() => {}));
    let notifications = 0;
    let notified!: () => void;
    const arrived = new Promise<void>((resolve) => {
      notified = resolve;
    });
    listener.on('notification', (n) => {
      if (n.channel !== DISPATCH_CHANNEL) return;
      notifications++;
      notified();
    });
    await listener.query(`listen ${DISPATCH_CHANNEL}`);

    // A change of status and assignee: ticket.updated, ticket.status_changed and ticket.assigned.
    const changed = await app.request({ method: 'PATCH', url: `/v1/tickets/${ticketId}`, body: { status: 'pending', assigned_to: 'agent@example.com' } });
    assert.equal(changed.statusCode, 200, changed.body);
    // Bounded only so that a missing notification fails here rather than hanging the suite.
    await Promise.race([arrived, new Promise((resolve) => setTimeout(resolve, 60_000))]);
    assert.equal(notifications, 1, 'one notification for the transaction, however many events');

    const events = await app.runtime.db.selectFrom('events').select(['id', 'type']).where('ticket_id', '=', ticketId).orderBy('id').execute();
    assert.deepEqual(
      events.map((e) => e.type),
      ['ticket.created', 'ticket.updated', 'ticket.status_changed', 'ticket.assigned'],
    );
    const marked = await app.runtime.db
      .selectFrom('event_dispatch_queue')
      .select('event_id')
      .where(
        'event_id',
        'in',
        events.map((e) => e.id),
      )
      .execute();
    assert.equal(marked.length, events.length, 'every event marked for fan-out');
  });
});
