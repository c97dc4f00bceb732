import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TicketRow } from '../../src/db/schema.js';
import { AppError } from '../../src/http/problem.js';
import { diffTicketUpdate } from '../../src/tickets/update-diff.js';

const now = new Date('2026-01-15T10:00:00Z');

function ticket(fields: Partial<TicketRow> = {}): TicketRow {
  return {
    id: 'tick_01kf0hj0800000000000000000',
    brand_id: 'brand_1',
    queue_id: 'que_1',
    subject: 'Refund',
    description: 'please',
    status: 'open',
    priority: 'normal',
    priority_rank: 2,
    assigned_to: null,
    tags: '["billing"]',
    origin: 'api',
    customer_email: 'casey@example.com',
    customer_name: 'Casey',
    metadata: '{"order":10021}',
    snoozed_until: null,
    first_response_at: null,
    version: 3,
    queue_seq: 7,
    change_seq: 9,
    created_at: '2026-01-14T09:00:00Z',
    updated_at: '2026-01-14T09:00:00Z',
    merged_into: null,
    last_message_preview: null,
    ...fields,
  };
}

/** Asserts the 422 that the API returns as a problem: its detail and its one `{ pointer, message }`. */
function assertInvalid(run: () => unknown, pointer: string, message: string): void {
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof AppError);
    assert.equal(e.code, 'validation_failed');
    assert.equal(e.status, 422);
    assert.equal(e.message, `${pointer} ${message}`);
    assert.deepEqual(e.errors, [{ pointer, message }]);
    return true;
  });
}

describe('ticket update diff', () => {
  describe('no-op updates', () => {
    it('changes nothing for an empty update', () => {
      assert.deepEqual(diffTicketUpdate(ticket(), {}, now), { set: {}, changes: {}, tags: undefined });
    });

    it('changes nothing when every field is sent as it already is, after normalisation', () => {
      const row = ticket({ assigned_to: 'agent@x.io', tags: '["billing","vip"]', priority: 'high', priority_rank: 1 });
      const diff = diffTicketUpdate(
        row,
        {
          subject: '  Refund ',
          priority: 'high',
          assigned_to: ' Agent@X.io',
          tags: ['Billing', ' VIP ', 'billing'],
          metadata: { order: 10021 },
          status: 'open',
          snoozed_until: null,
        },
        now,
      );
      assert.deepEqual(diff, { set: {}, changes: {}, tags: undefined });
    });

    it('changes nothing when a snoozed ticket is sent its own status and deadline', () => {
      const row = ticket({ status: 'snoozed', snoozed_until: '2026-01-16T00:00:00Z' });
      const diff = diffTicketUpdate(row, { status: 'snoozed', snoozed_until: '2026-01-16T00:00:00Z' }, now);
      assert.deepEqual(diff, { set: {}, changes: {}, tags: undefined });
    });
  });

  describe('subject', () => {
    it('is trimmed', () => {
      const diff = diffTicketUpdate(ticket(), { subject: '  Refund for order 10021 ' }, now);
      assert.deepEqual(diff.set, { subject: 'Refund for order 10021' });
      assert.deepEqual(diff.changes, { subject: { from: 'Refund', to: 'Refund for order 10021' } });
    });

    it('must not be blank', () => {
      assertInvalid(() => diffTicketUpdate(ticket(), { subject: ' \t ' }, now), '/subject', 'must not be blank');
    });
  });

  describe('priority', () => {
    it('sets the rank that orders the queue beside it', () => {
      const diff = diffTicketUpdate(ticket(), { priority: 'urgent' }, now);
      assert.deepEqual(diff.set, { priority: 'urgent', priority_rank: 0 });
      assert.deepEqual(diff.changes, { priority: { from: 'normal', to: 'urgent' } });
    });

    it('leaves the rank alone when the priority does not change', () => {
      assert.deepEqual(diffTicketUpdate(ticket(), { priority: 'normal' }, now).set, {});
    });
  });

  describe('assigned_to', () => {
    it('is trimmed and lower-cased', () => {
      const diff = diffTicketUpdate(ticket(), { assigned_to: ' Agent@X.io ' }, now);
      assert.deepEqual(diff.set, { assigned_to: 'agent@x.io' });
      assert.deepEqual(diff.changes, { assigned_to: { from: null, to: 'agent@x.io' } });
    });

    it('null unassigns', () => {
      const diff = diffTicketUpdate(ticket({ assigned_to: 'agent@x.io' }), { assigned_to: null }, now);
      assert.deepEqual(diff.set, { assigned_to: null });
      assert.deepEqual(diff.changes, { assigned_to: { from: 'agent@x.io', to: null } });
    });
  });

  describe('tags', () => {
    it('replace the whole list, normalised, and are returned for the tag index', () => {
      const diff = diffTicketUpdate(ticket(), { tags: ['VIP', ' refund ', 'vip'] }, now);
      assert.deepEqual(diff.set, { tags: '["vip","refund"]' });
      assert.deepEqual(diff.changes, { tags: { from: ['billing'], to: ['vip', 'refund'] } });
      assert.deepEqual(diff.tags, ['vip', 'refund']);
    });

    it('an empty list clears them', () => {
      const diff = diffTicketUpdate(ticket(), { tags: [] }, now);
      assert.deepEqual(diff.changes, { tags: { from: ['billing'], to: [] } });
      assert.deepEqual(diff.tags, []);
    });

    it('the same tags in another order are a change', () => {
      const diff = diffTicketUpdate(ticket({ tags: '["a","b"]' }), { tags: ['b', 'a'] }, now);
      assert.deepEqual(diff.changes, { tags: { from: ['a', 'b'], to: ['b', 'a'] } });
    });

    it('a tag that trims to nothing is refused at its index', () => {
      assertInvalid(() => diffTicketUpdate(ticket(), { tags: ['ok', '   '] }, now), '/tags/1', 'must be 1-64 characters after trimming and lower-casing');
    });

    it('a tag that lower-casing makes too long is refused at its index', () => {
      // "İ" lower-cases to two code points: 64 of them become 128.
      assertInvalid(() => diffTicketUpdate(ticket(), { tags: ['İ'.repeat(64)] }, now), '/tags/0', 'must be 1-64 characters after trimming and lower-casing');
    });

    it('more than 50 distinct tags are refused', () => {
      const tags = Array.from({ length: 51 }, (_, i) => `t${i}`);
      assertInvalid(() => diffTicketUpdate(ticket(), { tags }, now), '/tags', 'must hold at most 50 tags');
    });
  });

  describe('metadata', () => {
    it('replaces the whole object', () => {
      const diff = diffTicketUpdate(ticket(), { metadata: { order: 10022, vip: true } }, now);
      assert.deepEqual(diff.set, { metadata: '{"order":10022,"vip":true}' });
      assert.deepEqual(diff.changes, { metadata: { from: { order: 10021 }, to: { order: 10022, vip: true } } });
    });

    it('is refused past 4096 bytes of JSON', () => {
      assertInvalid(
        () => diffTicketUpdate(ticket(), { metadata: { note: 'x'.repeat(4096) } }, now),
        '/metadata',
        'must serialize to at most 4096 bytes of JSON',
      );
    });

    it('is refused past 32 levels, at the pointer of the 33rd', () => {
      const deep: Record<string, unknown> = {};
      let level = deep;
      for (let i = 1; i < 40; i++) level = (level.a = {}) as Record<string, unknown>;
      assertInvalid(() => diffTicketUpdate(ticket(), { metadata: deep }, now), `/metadata${'/a'.repeat(32)}`, 'nests objects and arrays deeper than 32 levels');
    });

    it('32 levels are fine', () => {
      const deep: Record<string, unknown> = {};
      let level = deep;
      for (let i = 1; i < 32; i++) level = (level.a = {}) as Record<string, unknown>;
      assert.ok(diffTicketUpdate(ticket(), { metadata: deep }, now).changes.metadata);
    });
  });

  describe('status and snooze', () => {
    it('a status change alone', () => {
      const diff = diffTicketUpdate(ticket(), { status: 'pending' }, now);
      assert.deepEqual(diff.set, { status: 'pending' });
      assert.deepEqual(diff.changes, { status: { from: 'open', to: 'pending' } });
    });

    it('snoozing stores the deadline in UTC', () => {
      const diff = diffTicketUpdate(ticket(), { status: 'snoozed', snoozed_until: '2026-01-16T09:30:00+02:00' }, now);
      assert.deepEqual(diff.set, { status: 'snoozed', snoozed_until: '2026-01-16T07:30:00Z' });
      assert.deepEqual(diff.changes, {
        status: { from: 'open', to: 'snoozed' },
        snoozed_until: { from: null, to: '2026-01-16T07:30:00Z' },
      });
    });

    it('a snoozed ticket may move its deadline without sending its status', () => {
      const diff = diffTicketUpdate(ticket({ status: 'snoozed', snoozed_until: '2026-01-16T00:00:00Z' }), { snoozed_until: '2026-01-17T00:00:00Z' }, now);
      assert.deepEqual(diff.changes, { snoozed_until: { from: '2026-01-16T00:00:00Z', to: '2026-01-17T00:00:00Z' } });
    });

    it('null clears the deadline of a snoozed ticket, which stays snoozed', () => {
      const diff = diffTicketUpdate(ticket({ status: 'snoozed', snoozed_until: '2026-01-16T00:00:00Z' }), { snoozed_until: null }, now);
      assert.deepEqual(diff.set, { snoozed_until: null });
    });

    it('leaving the snoozed status clears the deadline', () => {
      const diff = diffTicketUpdate(ticket({ status: 'snoozed', snoozed_until: '2026-01-16T00:00:00Z' }), { status: 'open' }, now);
      assert.deepEqual(diff.set, { status: 'open', snoozed_until: null });
      assert.deepEqual(diff.changes, {
        status: { from: 'snoozed', to: 'open' },
        snoozed_until: { from: '2026-01-16T00:00:00Z', to: null },
      });
    });

    it('the deadline must be in the future', () => {
      const run = (until: string) => () => diffTicketUpdate(ticket(), { status: 'snoozed', snoozed_until: until }, now);
      assertInvalid(run('2026-01-15T09:59:59Z'), '/snoozed_until', 'must be in the future');
      assertInvalid(run('2026-01-15T10:00:00Z'), '/snoozed_until', 'must be in the future');
    });

    it('the deadline must be a date-time', () => {
      assertInvalid(() => diffTicketUpdate(ticket(), { status: 'snoozed', snoozed_until: 'tomorrow' }, now), '/snoozed_until', 'must be an RFC 3339 date-time');
    });

    it('a deadline needs the ticket to be or become snoozed', () => {
      const message = 'applies only to snoozed tickets; send status "snoozed" with it';
      assertInvalid(() => diffTicketUpdate(ticket(), { snoozed_until: '2030-01-01T00:00:00Z' }, now), '/snoozed_until', message);
      const snoozed = ticket({ status: 'snoozed', snoozed_until: '2026-01-16T00:00:00Z' });
      assertInvalid(() => diffTicketUpdate(snoozed, { status: 'open', snoozed_until: '2030-01-01T00:00:00Z' }, now), '/snoozed_until', message);
    });
  });

  it('lists changes in a fixed field order, whatever the order of the request', () => {
    const diff = diffTicketUpdate(
      ticket({ status: 'snoozed', snoozed_until: '2026-01-16T00:00:00Z' }),
      { status: 'pending', metadata: {}, tags: ['x'], assigned_to: 'a@b.io', priority: 'low', subject: 'New' },
      now,
    );
    assert.deepEqual(Object.keys(diff.changes), ['subject', 'priority', 'assigned_to', 'tags', 'metadata', 'status', 'snoozed_until']);
  });

  it('does not touch the row it was given', () => {
    const row = ticket();
    const copy = structuredClone(row);
    diffTicketUpdate(row, { subject: 'New', tags: ['x'], status: 'resolved' }, now);
    assert.deepEqual(row, copy);
  });
});
