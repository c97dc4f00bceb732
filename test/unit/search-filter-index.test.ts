import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FilterIndex } from '../../src/search/filter-index.js';
import type { FilterFieldsRow } from '../../src/search/filter-store.js';
import { InvertedIndex } from '../../src/search/keyword-memory.js';
import type { SearchFilters } from '../../src/search/store.js';
import { VectorIndex, encodeVector } from '../../src/search/vector-index.js';

/** mulberry32: the same pseudo-random data in every run. */
function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STATUSES = ['open', 'pending', 'resolved', 'snoozed'];
const PRIORITIES = ['low', 'normal', 'high', 'urgent'];
const TAGS = ['billing', 'vip', 'bug', 'refund'];
const ASSIGNEES = [null, 'a@example.com', 'b@example.com'];

/** The meaning of the filters, written out as `store.filterCondition`'s SQL states it. */
function passes(row: FilterFieldsRow, f: SearchFilters): boolean {
  if (row.status === null) return false;
  if (f.status !== undefined && row.status !== f.status) return false;
  if (f.priority !== undefined && row.priority !== f.priority) return false;
  if (f.assigned_to !== undefined && row.assigned_to !== f.assigned_to) return false;
  if (f.created_after !== undefined && !(row.created_at! > f.created_after)) return false;
  if (f.created_before !== undefined && !(row.created_at! < f.created_before)) return false;
  const tags = JSON.parse(row.tags ?? '[]') as string[];
  return (f.tags ?? []).every((t) => tags.includes(t));
}

describe('FilterIndex', () => {
  const rand = seededRandom(7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const stamp = () => `2025-0${1 + Math.floor(rand() * 3)}-1${Math.floor(rand() * 3)}T10:00:0${Math.floor(rand() * 3)}Z`;
  const rows = new Map<number, FilterFieldsRow>();
  const index = new FilterIndex();
  for (let doc = 1; doc <= 3000; doc++) {
    const row: FilterFieldsRow = {
      doc_id: doc,
      seq: doc,
      brand_id: 'brand_a',
      status: pick(STATUSES),
      priority: pick(PRIORITIES),
      assigned_to: pick(ASSIGNEES),
      created_at: stamp(),
      tags: JSON.stringify(TAGS.filter(() => rand() < 0.3)),
      ticket_id: `tick_${doc}`,
      ticket_rowid: doc + 100,
      version: 1 + (doc % 5),
      opens_with_description: doc % 3 === 0 ? 0 : 1,
    };
    rows.set(doc, row);
    index.upsert(row);
  }

  it('passes exactly the documents whose fields meet every filter', () => {
    // Changes after the load, as a catch-up applies them: a new status, a missing ticket.
    for (let doc = 1; doc <= 3000; doc += 7) {
      const row = { ...rows.get(doc)!, status: pick(STATUSES), tags: JSON.stringify([pick(TAGS)]) };
      rows.set(doc, row);
      index.upsert(row);
    }
    const gone: FilterFieldsRow = { ...rows.get(11)!, status: null, priority: null, assigned_to: null, created_at: null, tags: null };
    rows.set(11, gone);
    index.upsert(gone);
    assert.equal(index.size, 2999);
    const cases: SearchFilters[] = [
      { brandIds: null, status: 'open' },
      { brandIds: null, priority: 'urgent', status: 'pending' },
      { brandIds: null, assigned_to: 'a@example.com' },
      { brandIds: null, tags: ['vip'] },
      { brandIds: null, tags: ['vip', 'bug'], status: 'resolved' },
      { brandIds: null, created_after: '2025-02-11T10:00:01Z' },
      { brandIds: null, created_after: '2025-01-10T10:00:00Z', created_before: '2025-01-12T10:00:00Z' },
    ];
    for (const f of cases) {
      const accept = index.matcher(f)!;
      const got = [...rows.keys()].filter((d) => accept(d));
      const want = [...rows.values()].filter((r) => passes(r, f)).map((r) => r.doc_id);
      assert.deepEqual(got, want, JSON.stringify(f));
      assert.ok(want.length > 0 || f.tags?.length === 2, `a case that selects something: ${JSON.stringify(f)}`);
    }
    assert.equal(index.matcher({ brandIds: ['brand_a'] }), null, 'no filter beyond brand: no predicate');
    assert.equal(index.matcher({ brandIds: null, assigned_to: 'nobody@example.com' })!(1), false);
    assert.equal(index.matcher({ brandIds: null, tags: ['never-seen'] })!(1), false);
    assert.equal(index.matcher({ brandIds: null, status: 'open' })!(999_999), false, 'an unknown document passes nothing');
  });

  it('keeps every document’s tags through changes that grow, shrink, drop and move them in its pool', () => {
    // Apart from the index above: tag sets of 0 to 4 changed in rounds, so that sets outgrow their
    // place, the pool fills with what changes left behind and is copied, and documents go and come back.
    const own = new FilterIndex();
    const mine = new Map<number, FilterFieldsRow>();
    const tagsOf = (n: number) => JSON.stringify(TAGS.filter(() => rand() < n));
    for (let round = 0; round < 12; round++) {
      for (let doc = 1; doc <= 800; doc++) {
        if (round > 0 && rand() < 0.5) continue;
        const base = rows.get(doc)!;
        const row: FilterFieldsRow =
          rand() < 0.05 ? { ...base, status: null, priority: null, assigned_to: null, created_at: null, tags: null } : { ...base, tags: tagsOf(rand()) };
        mine.set(doc, row);
        own.upsert(row);
      }
      for (const tags of [['vip'], ['bug', 'refund'], ['billing', 'vip', 'bug'], TAGS]) {
        const f: SearchFilters = { brandIds: null, tags };
        const accept = own.matcher(f)!;
        const got = [...mine.keys()].filter((d) => accept(d));
        const want = [...mine.values()].filter((r) => passes(r, f)).map((r) => r.doc_id);
        assert.deepEqual(got, want, `round ${round}, tags ${tags.join(',')}`);
      }
    }
    assert.equal(own.size, [...mine.values()].filter((r) => r.status !== null).length);
  });

  it('tells where each document’s ticket row lies, and whether a row read there is its ticket', () => {
    assert.equal(index.rowidOf(12), 112);
    assert.ok(index.isTicketOf(12, 'tick_12'));
    assert.ok(!index.isTicketOf(12, 'tick_13'), 'another ticket at that rowid (after a VACUUM) is not taken for it');
    assert.ok(!index.isTicketOf(12, 'tick_12 '));
    assert.equal(index.rowidOf(11), 0, 'a document whose ticket row is missing has no place');
    assert.equal(index.rowidOf(999_999), 0, 'nor does an unknown document');
    const onPostgres = new FilterIndex();
    onPostgres.upsert({ ...rows.get(12)!, ticket_rowid: null });
    assert.equal(onPostgres.rowidOf(12), 0, 'no rowid: read through search_documents');
  });

  it('tells whether a ticket opens with its description, only at the version it was read at', () => {
    const row = rows.get(13)!;
    assert.equal(row.opens_with_description, 1);
    assert.ok(index.opensWithDescription(13, row.version!));
    assert.ok(!index.opensWithDescription(13, row.version! + 1), 'a later version (a merge moved older messages in) is not known');
    assert.ok(!index.opensWithDescription(12, rows.get(12)!.version!), 'a ticket whose first message is another one');
    const unknown = new FilterIndex();
    unknown.upsert({ ...row, opens_with_description: null });
    assert.ok(!unknown.opensWithDescription(13, row.version!), 'not known (a document of before the column)');
    assert.ok(!index.opensWithDescription(11, rows.get(11)!.version!), 'a document whose ticket row is missing');
    assert.ok(!index.opensWithDescription(999_999, 1), 'an unknown document');
  });

  it('is applied inside both indexes’ scans: the filtered top k is exact', () => {
    const vectors = new VectorIndex(8);
    const words = new InvertedIndex();
    for (const doc of rows.keys()) {
      const v = Float32Array.from({ length: 8 }, () => rand() - 0.5);
      const n = Math.hypot(...v);
      vectors.upsert(doc, 'brand_a', encodeVector(v.map((x) => x / n)));
      words.upsert(doc, 'brand_a', { subject: rand() < 0.5 ? 'refund refund' : 'refund order', body: 'word '.repeat(1 + (doc % 9)), meta: '' });
    }
    const f: SearchFilters = { brandIds: null, status: 'snoozed', tags: ['refund'] };
    const accept = index.matcher(f)!;
    const q = Float32Array.from({ length: 8 }, (_, i) => (i % 2 ? 0.5 : -0.5));
    const all = vectors.search(q, null, rows.size, { exact: true });
    assert.deepEqual(vectors.search(q, ['brand_a'], 10, { accept }), all.filter((h) => accept(h.id)).slice(0, 10));
    const allWords = words.search(['refund'], { brandIds: null }, rows.size);
    assert.deepEqual(words.search(['refund'], { brandIds: ['brand_a'], accept }, 10), allWords.filter((h) => accept(h.id)).slice(0, 10));
  });
});
