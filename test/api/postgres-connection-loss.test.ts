/**
 * The PostgreSQL server can drop a connection at any time: a restart, a failover, an administrator
 * ending a backend. Whatever was in flight on it fails with a clear error; the process stays up and
 * the next requests are served on fresh connections.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { build, testPostgresUrl } from '../helpers/app.js';
import { waitFor } from '../helpers/wait.js';

describe('PostgreSQL connections lost while in use', {
  skip: testPostgresUrl ? false : 'needs NEXUS_TEST_DATABASE_URL (npm run test:postgres)',
}, () => {
  it('a query in flight when its backend is ended fails, the process does not crash, and the API serves on', async (t) => {
    const app = await build(t);
    const brand = (await app.request({ method: 'POST', url: '/v1/brands', body: { name: 'Cut' } })).json();
    const created = await app.request({
      method: 'POST',
      url: '/v1/tickets',
      body: { brand_id: brand.id, subject: 'Before the cut', customer: { email: 'cut@example.com' } },
    });
    assert.equal(created.statusCode, 201);
    const database = new URL(app.config.databaseUrl!).pathname.slice(1);

    // A statement that is still running when the backends are ended.
    const inFlight = sql`select pg_sleep(60)`.execute(app.runtime.db);
    const outcome = inFlight.then(
      () => 'finished',
      (err: Error) => err.message,
    );
    const admin = new pg.Client({ connectionString: testPostgresUrl });
    await admin.connect();
    try {
      await waitFor('the statement running on the server', 30_000, async () => {
        const { rowCount } = await admin.query("select 1 from pg_stat_activity where datname = $1 and query like '%pg_sleep(60)%' and state = 'active'", [
          database,
        ]);
        return rowCount ? true : undefined;
      });
      const ended = await admin.query('select pg_terminate_backend(pid) as ended from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [
        database,
      ]);
      assert.ok(ended.rowCount! >= 1);
    } finally {
      await admin.end();
    }
    // Before the fix, the client's own 'error' event had no listener and ended the process here
    // (node:test reports that as an uncaught exception in this test).
    assert.match(await outcome, /terminat/i);

    // Until the pool has dropped the other connections that were ended (idle ones learn of it when
    // their socket closes), a request may meet one: a 503 the client retries, never a 500.
    const served = async (what: string, send: () => ReturnType<typeof app.request>) =>
      waitFor(what, 30_000, async () => {
        const res = await send();
        if (res.statusCode === 503) {
          assert.equal(res.json().code, 'unavailable', res.body);
          assert.equal(res.headers['retry-after'], '1');
          return undefined;
        }
        return res;
      });
    const got = await served('a GET served', () => app.request({ method: 'GET', url: `/v1/tickets/${created.json().id}` }));
    assert.equal(got.statusCode, 200, got.body);
    assert.equal(got.json().subject, 'Before the cut');
    const another = await served('a create served', () =>
      app.request({
        method: 'POST',
        url: '/v1/tickets',
        headers: { 'idempotency-key': 'after-the-cut' },
        body: { brand_id: brand.id, subject: 'After the cut', customer: { email: 'cut@example.com' } },
      }),
    );
    assert.equal(another.statusCode, 201, another.body);
    const listed = await app.request({ method: 'GET', url: `/v1/tickets?brand_id=${brand.id}` });
    assert.deepEqual(
      listed
        .json()
        .data.map((x: { subject: string }) => x.subject)
        .sort(),
      ['After the cut', 'Before the cut'],
    );
  });
});
