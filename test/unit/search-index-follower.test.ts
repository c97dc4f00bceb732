/**
 * The follower that loads an in-process search index from its table: every row once, in order,
 * across reads; and a load that lets the event loop run while it works, so the requests served
 * beside a warm-up (or a refit's new index) wait one short slice, not the whole load.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Db } from '../../src/db/schema.js';
import { followKeywordIndex, followTable } from '../../src/search/index-follower.js';
import type { KeywordIndex, KeywordTextRow } from '../../src/search/keyword-index.js';
import { holdThread, loopTurnsDuring } from '../helpers/event-loop.js';
import { waitFor } from '../helpers/wait.js';

interface Row {
  seq: number;
  doc_id: number;
}

/** A table of `n` rows, one change each, read as the follower reads the search tables. */
function tableOf(n: number, applyRow: (row: Row) => void) {
  const rows: Row[] = Array.from({ length: n }, (_, i) => ({ seq: i + 1, doc_id: i + 1 }));
  const reads: number[] = [];
  return {
    reads,
    rowsSince: async (afterSeq: number, afterDocId: number, limit: number) => {
      const page = rows.filter((r) => r.seq > afterSeq || (r.seq === afterSeq && r.doc_id > afterDocId)).slice(0, limit);
      reads.push(page.length);
      return page;
    },
    apply: applyRow,
  };
}

describe('search index follower', () => {
  it('applies every row once, in order, over several reads, and is caught up to the seq asked for', async () => {
    const applied: number[] = [];
    const table = tableOf(1234, (r) => applied.push(r.doc_id));
    const follower = followTable(table);
    await follower.catchUp(1234);
    assert.deepEqual(
      applied,
      Array.from({ length: 1234 }, (_, i) => i + 1),
    );
    assert.ok(table.reads.length > 1, `read in batches: ${table.reads.join(', ')}`);
    assert.equal(follower.seq, 1234);
    assert.equal(follower.loads, 1);
    // Caught up: asking again reads nothing more.
    const readsBefore = table.reads.length;
    await follower.catchUp(1234);
    assert.equal(table.reads.length, readsBefore);
  });

  it('lets the event loop run every few milliseconds while a load works, whatever a row costs', async () => {
    // 60 rows of 1 ms each: 60 ms of work in one read. A load must not hold the loop for all of it.
    const table = tableOf(60, () => holdThread(1));
    const { turns } = await loopTurnsDuring(() => followTable(table).catchUp(60));
    // A slice is a few ms of wall-clock time, so the 60 ms load gave the loop a turn at least every
    // few rows (a preempted row only makes its slice end sooner).
    assert.ok(turns >= 8, `the event loop ran ${turns} times during a 60 ms load`);
  });

  it('runs the keyword rebuild that removals make due in steps beside the catch-up, and keeps the changes caught up meanwhile', async () => {
    const rows: KeywordTextRow[] = [];
    const write = (docId: number, text: string | null) =>
      rows.push({ seq: rows.length + 1, doc_id: docId, brand_id: 'a', fields: text === null ? null : { subject: text, body: 'common words here', meta: '' } });
    for (let id = 1; id <= 3000; id++) write(id, `word${id % 50} other${id % 7}`);
    const keyword = {
      textsSince: async (_db: unknown, afterSeq: number, _afterDocId: number, limit: number) => rows.filter((r) => r.seq > afterSeq).slice(0, limit),
    } as unknown as KeywordIndex;
    const followed = followKeywordIndex({} as Db, keyword, { rebuildAfterDead: 1000 });
    const index = await followed.catchUp(rows.length);
    assert.equal(index.size, 3000);
    // Removals past half the pool's postings but short of three quarters, in one catch-up (on
    // this data, due from the 1,093rd removal, the backstop at the 2,047th): only the follower
    // starts this rebuild, in steps beside the rest of the catch-up.
    for (let id = 1; id <= 1800; id++) write(id, null);
    await followed.catchUp(rows.length);
    assert.ok(index.rebuilds + (index.rebuildUnderWay ? 1 : 0) >= 1, 'a rebuild ran or runs');
    // Changes while it runs (it may already be done: a few ms of work on this machine).
    write(5000, 'late arrival');
    write(2500, null);
    await followed.catchUp(rows.length);
    await waitFor('the rebuild', 60_000, () => (index.rebuilds >= 1 && !index.rebuildDue && !index.rebuildUnderWay ? true : undefined));
    assert.equal(index.size, 1200);
    assert.deepEqual(
      index.search(['late'], { brandIds: null }, 10).map((h) => h.id),
      [5000],
    );
    assert.deepEqual(
      index
        .search(['word0'], { brandIds: null }, 100)
        .map((h) => h.id)
        .sort((a, b) => a - b),
      Array.from({ length: 24 }, (_, i) => 1850 + 50 * i).filter((id) => id !== 2500),
    );
  });

  it("builds the keyword index's high tiers within the load, so a search arriving during it or after builds none; and again after a rebuild in the background", async () => {
    const rows: KeywordTextRow[] = [];
    const write = (docId: number, text: string | null) =>
      rows.push({ seq: rows.length + 1, doc_id: docId, brand_id: 'a', fields: text === null ? null : { subject: text, body: 'common words here', meta: '' } });
    // Three words in every ticket: long lists (a tier from 1,024 postings), and a search of the
    // three reads past the 16,384 postings from which it goes by the tiers.
    for (let id = 1; id <= 12_000; id++) write(id, `word${id % 50} other${id % 7} ${'more '.repeat(id % 5)}`);
    const keyword = {
      textsSince: async (_db: unknown, afterSeq: number, _afterDocId: number, limit: number) => rows.filter((r) => r.seq > afterSeq).slice(0, limit),
    } as unknown as KeywordIndex;
    const followed = followKeywordIndex({} as Db, keyword, { rebuildAfterDead: 1000 });
    assert.deepEqual(followed.memory().tierBytes, 0);
    const terms = ['common', 'words', 'here'];
    // The second asks while the first one's load is under way: it waits for that load, tiers included.
    const [index, during] = await Promise.all([
      followed.catchUp(rows.length),
      followed.catchUp(rows.length).then((idx) => ({ tiers: idx.tiersBuilt, hits: idx.search(terms, { brandIds: null }, 10) })),
    ]);
    // One per list of 1,024 postings or more: the three words, `other0`-`other6` and `more`.
    assert.equal(during.tiers, 11, 'built within the load');
    assert.equal(during.hits.length, 10);
    assert.equal(index.tiersBuilt, 11, 'the search built none');
    assert.equal(index.tieredAnswers + index.tieredFallbacks, 1, 'the search went by the tiers');
    const memory = followed.memory();
    assert.ok(memory.tierBytes > 0 && memory.tierBytes < memory.bytes, `${memory.tierBytes} of ${memory.bytes} bytes in tiers`);

    // Half removed: a rebuild in the background, whose swap drops the tiers; built again after it
    // for the four lists still long (the three words and `more`).
    for (let id = 1; id <= 6000; id++) write(id, null);
    await followed.catchUp(rows.length);
    await waitFor('the rebuild and the tiers after it', 30_000, () =>
      index.rebuilds >= 1 && !index.rebuildDue && !index.rebuildUnderWay && index.tiersBuilt >= 15 ? true : undefined,
    );
    assert.ok(followed.memory().tierBytes > 0);
    const built = index.tiersBuilt;
    const hits = index.search(terms, { brandIds: null }, 10);
    assert.equal(index.tiersBuilt, built, 'the search built none');
    assert.equal(index.tieredAnswers + index.tieredFallbacks, 2, 'the search went by the tiers');
    assert.ok(hits.length === 10 && hits.every((h) => h.id > 6000), `hits: ${hits.map((h) => h.id).join(' ')}`);
  });
});
