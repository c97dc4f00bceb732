/**
 * On PostgreSQL the prepared queries run as named statements (src/db/pg-statements.ts). One that
 * reads `*` of a table is refused by the server once another process has added a column to that
 * table (an expand migration of a newer version, with this process still serving): reads and
 * writes go on, through a statement parsed afresh, with no error reaching the client.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { build, testPostgresUrl } from '../helpers/app.js';

describe('PostgreSQL named statements', {
  skip: testPostgresUrl ? false : 'needs NEXUS_TEST_DATABASE_URL (npm run test:postgres)',
}, () => {
  it('a read and a write go on when another process adds a column to a table their statements read whole', async (t) => {
    const app = await build(t);
    const brand = (await app.request({ method: 'POST', url: '/v1/brands', body: { name: 'Expand' } })).json();
    const created = await app.request({
      method: 'POST',
      url: '/v1/tickets',
      body: { brand_id: brand.id, subject: 'Before the expand', customer: { email: 'expand@example.com' } },
    });
    assert.equal(created.statusCode, 201);
    const id = created.json().id;
    // Every connection of the pool has read the ticket through its named statement.
    const reads = await Promise.all(Array.from({ length: 12 }, () => app.request({ method: 'GET', url: `/v1/tickets/${id}` })));
    assert.deepEqual(
      reads.map((r) => r.statusCode),
      Array(12).fill(200),
    );

    const other = new pg.Client({ connectionString: app.config.databaseUrl });
    await other.connect();
    try {
      // The server refuses a statement parsed before the change; proof that they are named (an
      // unnamed one is parsed on every run and never refused).
      await other.query('alter table tickets add column expand_probe_1 text');
      const read = await app.request({ method: 'GET', url: `/v1/tickets/${id}` });
      assert.equal(read.statusCode, 200, read.body);
      assert.equal(read.json().subject, 'Before the expand');

      // Inside a write transaction the refusal aborts the unit: it runs again, whole, once.
      await other.query('alter table tickets add column expand_probe_2 text');
      const patched = await app.request({ method: 'PATCH', url: `/v1/tickets/${id}`, body: { priority: 'high' } });
      assert.equal(patched.statusCode, 200, patched.body);
      assert.equal(patched.headers.etag, '"v2"');
      const audit = await other.query("select count(*)::int as n from audit_entries where ticket_id = $1 and action = 'ticket.updated'", [id]);
      assert.equal(audit.rows[0].n, 1, 'one audit entry: the aborted run left nothing');
      const after = await app.request({ method: 'GET', url: `/v1/tickets/${id}` });
      assert.equal(after.statusCode, 200);
      assert.equal(after.json().priority, 'high');
    } finally {
      await other.end();
    }
  });
});
