/**
 * Group commit on PostgreSQL (src/db/transactions.ts): two processes' batches each hold their
 * earlier units' locks while they run the next. A batch there takes the change sequence first, as
 * the services wire it, so one waits for the other before it holds anything, and two batches that
 * touch the same ticket in opposite orders never deadlock.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from '../../src/db/open.js';
import { prepareQuery } from '../../src/db/prepared.js';
import type { Database } from '../../src/db/schema.js';
import { groupCommit, sentWritesOf } from '../../src/db/transactions.js';
import { insertAuditEntry, lockTicket, takeWriteOrder } from '../../src/tickets/store.js';
import { build, testPostgresUrl } from '../helpers/app.js';
import { createBrand, createTicket } from '../helpers/factories.js';
import type { Transaction } from 'kysely';

/** An audit entry of `ticket` (a missing ticket's is refused by the foreign key). */
const audit = (id: string, ticket: string) => ({
  id,
  ticket_id: ticket,
  actor_type: 'system',
  actor_id: null,
  actor_name: 'test',
  action: 'ticket.updated',
  changes: '{}',
  created_at: '2026-01-01T00:00:00.000Z',
});

const bumpChangeSequence = (trx: Transaction<Database>) => sql`update sequences set value = value + 1 where name = 'ticket_change_seq'`.execute(trx);

describe('PostgreSQL group commit', {
  skip: testPostgresUrl ? false : 'needs NEXUS_TEST_DATABASE_URL (npm run test:postgres)',
}, () => {
  it("two processes' batches that lock a ticket and the change sequence in opposite orders run one after the other, neither aborted", async (t) => {
    const app = await build(t);
    const brand = (await app.request({ method: 'POST', url: '/v1/brands', body: { name: 'Order' } })).json();
    const created = await app.request({
      method: 'POST',
      url: '/v1/tickets',
      body: { brand_id: brand.id, subject: 'Locked both ways', customer: { email: 'order@example.com' } },
    });
    assert.equal(created.statusCode, 201);
    const ticketId = created.json().id;

    // The second process: its own pool on the same database.
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-group-commit-pg-'));
    const second = openDatabase({ dataDir, databaseUrl: app.config.databaseUrl });
    t.after(async () => {
      await second.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });
    const first = groupCommit(app.runtime.db, { maxBatch: 32, startBatch: takeWriteOrder });
    const other = groupCommit(second.db, { maxBatch: 32, startBatch: takeWriteOrder });

    let runsA = 0;
    let runsB = 0;
    let sequenceTaken!: () => void;
    const aHoldsSequence = new Promise<void>((resolve) => {
      sequenceTaken = resolve;
    });
    let ticketTaken!: () => void;
    const bHoldsTicket = new Promise<void>((resolve) => {
      ticketTaken = resolve;
    });
    // A: the change sequence (as a ticket write's nextChange), then, once B holds the ticket or
    // after a while if it cannot get there, the ticket (as a later unit of the same batch would).
    const a = first.run(async (trx) => {
      runsA++;
      await bumpChangeSequence(trx);
      sequenceTaken();
      await Promise.race([bHoldsTicket, new Promise((resolve) => setTimeout(resolve, 3000))]);
      await lockTicket(trx, ticketId);
      return 'a';
    });
    await aHoldsSequence;
    // B: the ticket (as an update's lockTicket), then the change sequence.
    const b = other.run(async (trx) => {
      runsB++;
      await lockTicket(trx, ticketId);
      ticketTaken();
      await bumpChangeSequence(trx);
      return 'b';
    });
    assert.deepEqual(await Promise.all([a, b]), ['a', 'b']);
    // Without the batch's lock first, B takes the ticket at once, A then waits for it while B
    // waits for the sequence: PostgreSQL aborts one of them (40P01) and it runs a second time.
    assert.deepEqual({ runsA, runsB }, { runsA: 1, runsB: 1 }, 'neither unit was aborted as a deadlock');
    assert.deepEqual(first.stats(), { commits: 1, units: 1, rerunWithSavepoints: 0 });
    assert.deepEqual(other.stats(), { commits: 1, units: 1, rerunWithSavepoints: 0 });
  });

  it("sends a unit's writes without waiting, yet a later statement sees them and a failed one fails its unit alone, with its own error", async (t) => {
    const app = await build(t);
    const ticketId = (await createTicket(app, (await createBrand(app)).id, { subject: 'Audited' })).id;
    const db = app.runtime.db;
    const countOf = async (trx: Transaction<Database>, id: string) =>
      Number((await sql<{ n: string }>`select count(*) as n from audit_entries where id = ${id}`.execute(trx)).rows[0]!.n);
    const commits = groupCommit(db, { maxBatch: 32, startBatch: takeWriteOrder });
    // Queued in one turn: one batch, one transaction.
    const units = [
      commits.run(async (trx) => {
        assert.ok(sentWritesOf(trx), 'a unit on PostgreSQL sends its writes');
        await insertAuditEntry(trx, audit('aud_sent_first', ticketId));
        return countOf(trx, 'aud_sent_first');
      }),
      commits.run(async (trx) => {
        // No such ticket: the foreign key refuses the row, at the server, after the call returned.
        await insertAuditEntry(trx, audit('aud_sent_orphan', 'tick_missing'));
        return countOf(trx, 'aud_sent_orphan');
      }),
      commits.run(async (trx) => {
        await insertAuditEntry(trx, audit('aud_sent_last', ticketId));
        return countOf(trx, 'aud_sent_last');
      }),
    ];
    const [first, orphan, last] = await Promise.allSettled(units);
    assert.deepEqual(first, { status: 'fulfilled', value: 1 }, 'the unit read its own sent write');
    assert.equal(orphan?.status, 'rejected');
    assert.equal((orphan as PromiseRejectedResult).reason.code, '23503', 'the foreign key violation, not the aborted statement after it');
    assert.deepEqual(last, { status: 'fulfilled', value: 1 });
    assert.deepEqual(commits.stats(), { commits: 1, units: 3, rerunWithSavepoints: 0 });
    const kept = await db.selectFrom('audit_entries').select('id').where('id', 'like', 'aud_sent_%').orderBy('id').execute();
    assert.deepEqual(
      kept.map((r) => r.id),
      ['aud_sent_first', 'aud_sent_last'],
      'nothing of the failed unit was stored',
    );
  });

  it('a unit ends without waiting on its last writes, yet one whose last write fails, or that throws after writing, is rolled back alone; reads started ahead share the trip', async (t) => {
    const app = await build(t);
    const ticketId = (await createTicket(app, (await createBrand(app)).id, { subject: 'Trailing' })).id;
    const db = app.runtime.db;
    const auditById = prepareQuery((qb, p: { id: string }) => qb.selectFrom('audit_entries').select('id').where('id', '=', p.id));
    const commits = groupCommit(db, { maxBatch: 32, startBatch: takeWriteOrder });
    const units = [
      // Its write is still unanswered when the work returns: the release travels behind it.
      commits.run(async (trx) => {
        await insertAuditEntry(trx, audit('aud_trail_kept', ticketId));
        return 'kept';
      }),
      // Its last statement fails at the server after the work returned.
      commits.run(async (trx) => {
        await insertAuditEntry(trx, audit('aud_trail_before_orphan', ticketId));
        await insertAuditEntry(trx, audit('aud_trail_orphan', 'tick_missing'));
        return 'orphan';
      }),
      // A failed write, then reads started ahead: the reads are refused (the transaction is aborted), the unit's error is the write's.
      commits.run(async (trx) => {
        await insertAuditEntry(trx, audit('aud_trail_orphan_read', 'tick_missing'));
        const one = auditById.ahead(trx, { id: 'aud_trail_kept' });
        const two = auditById.ahead(trx, { id: 'aud_trail_read' });
        await Promise.all([one, two]);
        return 'read after orphan';
      }),
      // Throws after writing: what it sent is rolled back with it.
      commits.run(async (trx) => {
        await insertAuditEntry(trx, audit('aud_trail_thrown', ticketId));
        throw new Error('refused after writing');
      }),
      // Reads started ahead see the writes sent before them, this unit's and the earlier units'.
      commits.run(async (trx) => {
        await insertAuditEntry(trx, audit('aud_trail_read', ticketId));
        const earlier = auditById.ahead(trx, { id: 'aud_trail_kept' });
        const own = auditById.ahead(trx, { id: 'aud_trail_read' });
        const failed = auditById.ahead(trx, { id: 'aud_trail_before_orphan' });
        return [(await earlier).length, (await own).length, (await failed).length];
      }),
    ];
    const [kept, orphan, orphanRead, thrown, read] = await Promise.allSettled(units);
    assert.deepEqual(kept, { status: 'fulfilled', value: 'kept' });
    assert.equal(orphan?.status, 'rejected');
    assert.equal((orphan as PromiseRejectedResult).reason.code, '23503', 'the trailing write failed its unit with its own error');
    assert.equal(orphanRead?.status, 'rejected');
    assert.equal((orphanRead as PromiseRejectedResult).reason.code, '23503', 'the write, not the reads refused after it');
    assert.equal(thrown?.status, 'rejected');
    assert.equal((thrown as PromiseRejectedResult).reason.message, 'refused after writing');
    assert.deepEqual(read, { status: 'fulfilled', value: [1, 1, 0] }, "the reads saw the earlier unit's and their own writes, not the rolled-back one");
    assert.deepEqual(commits.stats(), { commits: 1, units: 5, rerunWithSavepoints: 0 });
    const stored = await db.selectFrom('audit_entries').select('id').where('id', 'like', 'aud_trail_%').orderBy('id').execute();
    assert.deepEqual(
      stored.map((r) => r.id),
      ['aud_trail_kept', 'aud_trail_read'],
      'nothing of the failed units was stored',
    );
  });
});
