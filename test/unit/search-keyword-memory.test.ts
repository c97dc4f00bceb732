import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { BM25, InvertedIndex } from '../../src/search/keyword-memory.js';
import { TopK } from '../../src/search/top-k.js';
import { COLUMN_WEIGHTS, type KeywordFields } from '../../src/search/keyword-index.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    s = Math.imul(s ^ (s >>> 13), 0x297a2d39) >>> 0;
    return ((s ^ (s >>> 16)) >>> 0) / 4294967296;
  };
}

const VOCAB = Array.from({ length: 60 }, (_, i) => `w${i}`);
function randomText(r: () => number, words: number): string {
  const out: string[] = [];
  // Skewed: low-numbered words are common, as in real text.
  for (let i = 0; i < words; i++) out.push(VOCAB[Math.floor(VOCAB.length * r() * r())]!);
  return out.join(' ');
}
function randomDoc(r: () => number): KeywordFields {
  return { subject: randomText(r, 1 + Math.floor(r() * 6)), body: randomText(r, Math.floor(r() * 40)), meta: randomText(r, Math.floor(r() * 3)) };
}

/** The words of a field, split once: the brute force below reads every document for every query. */
const splitFields = new Map<string, string[]>();
function tokens(s: string): string[] {
  let words = splitFields.get(s);
  if (!words) splitFields.set(s, (words = s.split(' ').filter(Boolean)));
  return words;
}

/** Brute force over every live document: the BM25 of FTS5 written out plainly. */
function bruteForce(docs: Map<number, { brand: string; f: KeywordFields }>, terms: string[], brands: string[] | null, k: number) {
  const n = docs.size;
  let total = 0;
  for (const d of docs.values()) total += tokens(d.f.subject).length + tokens(d.f.body).length + tokens(d.f.meta).length;
  const avgdl = total / n;
  const hits: { id: number; score: number }[] = [];
  const unique = [...new Set(terms)];
  const df = new Map(unique.map((t) => [t, [...docs.values()].filter((d) => [d.f.subject, d.f.body, d.f.meta].some((x) => tokens(x).includes(t))).length]));
  for (const [id, d] of docs) {
    if (brands && !brands.includes(d.brand)) continue;
    const len = tokens(d.f.subject).length + tokens(d.f.body).length + tokens(d.f.meta).length;
    let score = 0;
    for (const t of terms) {
      const f = Math.min(
        255,
        COLUMN_WEIGHTS.subject * tokens(d.f.subject).filter((x) => x === t).length +
          COLUMN_WEIGHTS.body * tokens(d.f.body).filter((x) => x === t).length +
          COLUMN_WEIGHTS.meta * tokens(d.f.meta).filter((x) => x === t).length,
      );
      if (f === 0) continue;
      let idf = Math.log((n - df.get(t)! + 0.5) / (df.get(t)! + 0.5));
      if (idf <= 0) idf = 1e-6;
      score += (idf * f * (BM25.k1 + 1)) / (f + BM25.k1 * (1 - BM25.b + (BM25.b * len) / avgdl));
    }
    if (score > 0) hits.push({ id, score });
  }
  return hits.sort((a, b) => b.score - a.score || a.id - b.id).slice(0, k);
}

/** Same ranking up to float32 accumulation: scores match and ids match wherever scores differ. */
function assertSameRanking(got: { id: number; score: number }[], want: { id: number; score: number }[]): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < got.length; i++) {
    assert.ok(Math.abs(got[i]!.score - want[i]!.score) < 1e-4 * Math.max(1, want[i]!.score), `score ${i}: ${got[i]!.score} vs ${want[i]!.score}`);
    const clearOfNeighbours = (i === 0 || want[i - 1]!.score - want[i]!.score > 1e-3) && (i === want.length - 1 || want[i]!.score - want[i + 1]!.score > 1e-3);
    if (clearOfNeighbours) assert.equal(got[i]!.id, want[i]!.id, `id at ${i}`);
  }
}

describe('InvertedIndex (in-process BM25)', () => {
  it('ranks exactly like SQLite FTS5 bm25(search_fts, 2, 1, 1)', () => {
    const r = rng(7);
    const db = new Database(':memory:');
    db.exec(`create virtual table f using fts5(subject, body, meta, tokenize = 'unicode61 remove_diacritics 2')`);
    const insert = db.prepare('insert into f (rowid, subject, body, meta) values (?, ?, ?, ?)');
    const idx = new InvertedIndex();
    for (let id = 1; id <= 400; id++) {
      const d = randomDoc(r);
      insert.run(id, d.subject, d.body, d.meta);
      idx.upsert(id, 'b', d);
    }
    const stmt = db.prepare(
      `select rowid as id, -bm25(f, ${COLUMN_WEIGHTS.subject}, ${COLUMN_WEIGHTS.body}, ${COLUMN_WEIGHTS.meta}) as score from f where f match ? order by bm25(f, ${COLUMN_WEIGHTS.subject}, ${COLUMN_WEIGHTS.body}, ${COLUMN_WEIGHTS.meta}), rowid limit 20`,
    );
    for (let q = 0; q < 30; q++) {
      const terms = [...new Set(randomText(r, 1 + Math.floor(r() * 5)).split(' '))];
      const want = stmt.all(terms.map((t) => `"${t}"`).join(' OR ')) as { id: number; score: number }[];
      assertSameRanking(idx.search(terms, { brandIds: null }, 20), want);
    }
    db.close();
  });

  it('top k equals brute force on random data, with brands, updates, removals and rebuilds', () => {
    const r = rng(42);
    const idx = new InvertedIndex({ rebuildAfterDead: 500 });
    const docs = new Map<number, { brand: string; f: KeywordFields }>();
    const brands = ['a', 'b', 'c'];
    let nextId = 1;
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 3000; i++) {
        const roll = r();
        if (roll < 0.6 || docs.size < 10) {
          const id = nextId++;
          const d = { brand: brands[Math.floor(r() * 3)]!, f: randomDoc(r) };
          docs.set(id, d);
          idx.upsert(id, d.brand, d.f);
        } else if (roll < 0.9) {
          // Update: new text, or the same text again (a status change re-indexes unchanged text).
          const id = 1 + Math.floor(r() * (nextId - 1));
          const old = docs.get(id);
          if (!old) continue;
          // Now and then the ticket moves to another brand.
          const brand = r() < 0.1 ? brands[Math.floor(r() * 3)]! : old.brand;
          const d = { brand, f: r() < 0.5 ? old.f : randomDoc(r) };
          docs.set(id, d);
          idx.upsert(id, d.brand, d.f);
        } else {
          const id = 1 + Math.floor(r() * (nextId - 1));
          docs.delete(id);
          idx.remove(id);
        }
      }
      assert.equal(idx.size, docs.size);
      if (round === 2) idx.compact();
      for (let q = 0; q < 15; q++) {
        const terms = randomText(r, 1 + Math.floor(r() * 6)).split(' ');
        const allowed = q % 5 === 0 ? null : q % 5 === 4 ? ['a', 'c'] : [brands[q % 3]!];
        const k = [1, 10, 100][q % 3]!;
        assertSameRanking(idx.search(terms, { brandIds: allowed }, k), bruteForce(docs, terms, allowed, k));
        const { df, total } = idx.documentFrequencies(terms);
        assert.equal(total, docs.size);
        for (const t of terms)
          assert.equal(df.get(t), [...docs.values()].filter((d) => `${d.f.subject} ${d.f.body} ${d.f.meta}`.split(' ').includes(t)).length);
      }
    }
    assert.ok(idx.rebuilds > 0, 'the pool was rebuilt at least once');
  });

  it("reads only the allowed brands' postings, and ranks by the whole corpus's document frequencies", () => {
    const idx = new InvertedIndex();
    // Brand a: 10 tickets about a refund; brand b: 1,000, a tenth of them about a refund.
    for (let id = 1; id <= 10; id++) idx.upsert(id, 'a', { subject: 'refund', body: `order${id}`, meta: '' });
    for (let id = 11; id <= 1010; id++) idx.upsert(id, 'b', { subject: id % 10 === 0 ? 'refund' : 'card', body: `order${id}`, meta: '' });
    idx.compact();
    const before = idx.postingsRead;
    const hits = idx.search(['refund', 'card'], { brandIds: ['a'] }, 5);
    assert.equal(idx.postingsRead - before, 10, "brand a's 10 postings of refund, none of brand b's 1,000");
    assert.deepEqual(
      hits.map((h) => h.id),
      [1, 2, 3, 4, 5],
    );
    // The score is brand b's too: idf is over all 1,010 tickets (110 about a refund), as in FTS5.
    const { k1, b } = BM25;
    const n = 1010;
    const idf = Math.log((n - 110 + 0.5) / (110 + 0.5));
    const avgdl = 2;
    const tf = 2; // the subject's weight
    const expected = (idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * 2) / avgdl));
    assert.ok(Math.abs(hits[0]!.score - expected) < 1e-4, `${hits[0]!.score} vs ${expected}`);
    const all = idx.postingsRead;
    idx.search(['refund'], { brandIds: null }, 5);
    assert.equal(idx.postingsRead - all, 110, 'every brand: every posting of the term');
  });

  it('restricts to a document set and to no brand at all', () => {
    const idx = new InvertedIndex();
    idx.upsert(1, 'a', { subject: 'refund card', body: '', meta: '' });
    idx.upsert(2, 'a', { subject: 'refund', body: 'card card', meta: '' });
    idx.upsert(3, 'b', { subject: 'card', body: '', meta: '' });
    assert.deepEqual(
      idx.search(['card'], { brandIds: ['a'], docIds: new Set([2, 3]) }, 10).map((h) => h.id),
      [2],
    );
    assert.deepEqual(idx.search(['card'], { brandIds: [] }, 10), []);
    assert.deepEqual(idx.search(['nothing'], { brandIds: null }, 10), []);
    assert.equal(idx.search(['card', 'refund'], { brandIds: null }, 10).length, 3);
  });

  it("keeps document frequencies exact after a change in a brand without reading the brand's chains again; compacts a chain once a quarter is dead", () => {
    const idx = new InvertedIndex();
    // Two brands of 5,000 tickets about a refund; every change below is in brand a.
    for (let id = 1; id <= 10_000; id++) idx.upsert(id, id <= 5000 ? 'a' : 'b', { subject: 'refund', body: `order${id}`, meta: '' });
    idx.compact();
    let live = 10_000;
    assert.equal(idx.documentFrequencies(['refund']).df.get('refund'), live);
    const swept = idx.postingsSwept;
    // As under mixed load: a change between two searches (new text: the old slot dies).
    for (let i = 1; i <= 200; i++) {
      const moved = i % 4 === 0;
      idx.upsert(i, 'a', { subject: moved ? 'card' : 'refund', body: `order${i} again`, meta: '' });
      if (moved) live--;
      assert.equal(idx.documentFrequencies(['refund']).df.get('refund'), live);
      assert.equal(idx.search(['refund'], { brandIds: ['a'] }, 5).length, 5);
    }
    assert.equal(idx.postingsSwept - swept, 0, 'no chain read to count its live postings');
    assert.equal(idx.documentFrequencies(['card']).df.get('card'), 50);
    // Removals one at a time, read between them, until a quarter of brand a's chain is dead: it is
    // compacted once (read once), and the counts stay exact throughout.
    const before = idx.postingsSwept;
    for (let id = 1001; id <= 2400; id++) {
      idx.remove(id);
      live--;
      assert.equal(idx.documentFrequencies(['refund']).df.get('refund'), live);
    }
    assert.ok(idx.postingsSwept - before >= 5000, "brand a's chain was read to drop its dead postings");
    assert.ok(idx.postingsSwept - before < 10_000, "brand b's chain was not");
    const after = idx.postingsSwept;
    idx.remove(3000);
    assert.equal(idx.documentFrequencies(['refund']).df.get('refund'), live - 1);
    assert.equal(idx.postingsSwept, after);
    assert.deepEqual(
      idx.search(['refund'], { brandIds: ['a'] }, 3).map((h) => h.id),
      idx
        .search(['refund'], { brandIds: ['a'] }, 10_000)
        .map((h) => h.id)
        .slice(0, 3),
    );
  });

  it('TopK keeps the k best, ties broken by the smaller id', () => {
    const top = new TopK(3);
    for (const [s, id] of [
      [1, 5],
      [2, 4],
      [2, 9],
      [2, 1],
      [0.5, 2],
      [3, 7],
    ] as const)
      top.push(s, id);
    assert.deepEqual(
      top.sorted().map((h) => h.id),
      [7, 1, 4],
    );
  });

  it('compacts in steps: searches between two steps read the index as it was, and changes between steps are kept', () => {
    const r = rng(7);
    const build = () => {
      const idx = new InvertedIndex({ rebuildStep: 15000 });
      const docs = new Map<number, { brand: string; f: KeywordFields }>();
      // Enough postings for several steps; removals leave dead postings for the rebuild to drop.
      for (let id = 1; id <= 6000; id++) {
        const d = { brand: id % 2 ? 'a' : 'b', f: randomDoc(r) };
        docs.set(id, d);
        idx.upsert(id, d.brand, d.f);
      }
      for (let id = 3; id <= 6000; id += 7) {
        docs.delete(id);
        idx.remove(id);
      }
      return { idx, docs };
    };
    const queries = Array.from({ length: 8 }, () => randomText(r, 1 + Math.floor(r() * 4)).split(' '));
    const check = (idx: InvertedIndex, docs: Map<number, { brand: string; f: KeywordFields }>) => {
      for (const [q, terms] of queries.entries()) {
        const allowed = q % 2 ? ['a'] : null;
        assertSameRanking(idx.search(terms, { brandIds: allowed }, 20), bruteForce(docs, terms, allowed, 20));
      }
      assert.equal(idx.size, docs.size);
    };

    const { idx, docs } = build();
    const before = idx.bytes;
    let steps = 0;
    for (const _ of idx.compactSteps()) {
      steps++;
      check(idx, docs);
    }
    assert.ok(steps >= 5, `${steps} steps`);
    assert.equal(idx.rebuilds, 1);
    assert.ok(idx.bytes < before, `pool trimmed: ${before} -> ${idx.bytes} bytes`);
    check(idx, docs);
    // The renumbered index keeps taking changes.
    idx.upsert(9001, 'a', { subject: 'w1 w2', body: '', meta: '' });
    docs.set(9001, { brand: 'a', f: { subject: 'w1 w2', body: '', meta: '' } });
    idx.remove(10);
    docs.delete(10);
    check(idx, docs);

    // Changes of every kind between the steps: new documents (with words never seen), new text,
    // the same text again, removals, and a removed document back. Each is seen by the searches
    // between the steps, and kept by the rebuilt index.
    const second = build();
    let n = 0;
    let lastFresh = '';
    for (const _ of second.idx.compactSteps()) {
      const kind = n++ % 5;
      const id = kind === 0 ? 10_000 + n : 1 + Math.floor(r() * 6000);
      if (kind === 3) {
        second.docs.delete(id);
        second.idx.remove(id);
      } else {
        const old = second.docs.get(id);
        if (kind === 0) lastFresh = `fresh${n}`;
        const f = kind === 2 && old ? old.f : kind === 0 ? { subject: `${lastFresh} w1`, body: randomText(r, 5), meta: '' } : randomDoc(r);
        const d = { brand: old?.brand ?? 'a', f };
        second.docs.set(id, d);
        second.idx.upsert(id, d.brand, d.f);
      }
      check(second.idx, second.docs);
    }
    assert.ok(n >= 5, `${n} steps`);
    assert.equal(second.idx.rebuilds, 1, 'changes between two steps no longer abandon the rebuild');
    check(second.idx, second.docs);
    const { df, total } = second.idx.documentFrequencies([lastFresh, 'w1', 'w0']);
    assert.equal(df.get(lastFresh), 1);
    assert.equal(total, second.docs.size);
    for (const [t, count] of df)
      assert.equal(count, [...second.docs.values()].filter((d) => `${d.f.subject} ${d.f.body} ${d.f.meta}`.split(' ').includes(t)).length, t);
    // And goes on taking changes after the swap.
    second.idx.upsert(20_000, 'b', { subject: 'w5 w6', body: '', meta: '' });
    second.docs.set(20_000, { brand: 'b', f: { subject: 'w5 w6', body: '', meta: '' } });
    check(second.idx, second.docs);

    // A caller that stops stepping leaves the serving index as it is, changes included.
    const third = build();
    const steps3 = third.idx.compactSteps();
    steps3.next();
    third.idx.upsert(9002, 'b', { subject: 'w3', body: 'w3 w4', meta: '' });
    third.docs.set(9002, { brand: 'b', f: { subject: 'w3', body: 'w3 w4', meta: '' } });
    steps3.return();
    assert.equal(third.idx.rebuilds, 0);
    check(third.idx, third.docs);
    for (const _ of third.idx.compactSteps());
    assert.equal(third.idx.rebuilds, 1, 'a later compaction runs');
    check(third.idx, third.docs);
  });

  it('with rebuildInSteps, removals make a rebuild due instead of running it inside the change; a synchronous one only at three quarters', () => {
    const r = rng(11);
    const idx = new InvertedIndex({ rebuildAfterDead: 1000, rebuildInSteps: true, rebuildStep: 2000 });
    const docs = new Map<number, { brand: string; f: KeywordFields }>();
    for (let id = 1; id <= 4000; id++) {
      const d = { brand: 'a', f: randomDoc(r) };
      docs.set(id, d);
      idx.upsert(id, 'a', d.f);
    }
    let id = 1;
    while (!idx.rebuildDue && id <= 4000) {
      docs.delete(id);
      idx.remove(id++);
    }
    assert.ok(idx.rebuildDue, 'due once half the pool is dead');
    assert.equal(idx.rebuilds, 0, 'not rebuilt inside remove()');
    const terms = ['w0', 'w1', 'w7'];
    assertSameRanking(idx.search(terms, { brandIds: null }, 10), bruteForce(docs, terms, null, 10));
    let steps = 0;
    for (const _ of idx.compactSteps()) steps++;
    assert.ok(steps > 1, `${steps} steps`);
    assert.equal(idx.rebuilds, 1);
    assert.equal(idx.rebuildDue, false);
    assertSameRanking(idx.search(terms, { brandIds: null }, 10), bruteForce(docs, terms, null, 10));

    // Removals between the steps of a rebuild, replayed at the swap, can make the next one due at
    // once: the owner must look again after the swap.
    while (!idx.rebuildDue && id <= 4000) {
      docs.delete(id);
      idx.remove(id++);
    }
    assert.ok(idx.rebuildDue);
    // Five steps: every slot counted and copied (two passes of 2,000 a step, fewer than 4,000
    // slots), postings (~18,000, 2,000 a step) still to go.
    const again = idx.compactSteps();
    for (let i = 0; i < 5; i++) again.next();
    assert.ok(idx.rebuildUnderWay);
    // Three fifths of the documents, all in the copy: half the rebuilt pool or more is dead once
    // they are replayed, short of the backstop's three quarters.
    const meanwhile = Math.floor(docs.size * 0.6);
    let removedMeanwhile = 0;
    while (removedMeanwhile < meanwhile && id <= 4000) {
      docs.delete(id);
      idx.remove(id++);
      removedMeanwhile++;
    }
    assert.equal(idx.rebuilds, 1, 'no rebuild inside a removal while one runs in steps');
    for (const _ of again);
    assert.equal(idx.rebuilds, 2);
    assert.ok(idx.rebuildDue, 'due again after the swap');
    assertSameRanking(idx.search(terms, { brandIds: null }, 10), bruteForce(docs, terms, null, 10));
    for (const _ of idx.compactSteps());
    assert.equal(idx.rebuilds, 3);
    assert.equal(idx.rebuildDue, false);

    // Never stepped: the backstop rebuilds at once when three quarters of the pool are dead.
    while (idx.rebuilds === 3 && id <= 4000) {
      docs.delete(id);
      idx.remove(id++);
    }
    assert.equal(idx.rebuilds, 4, 'the backstop ran');
    assert.ok(id <= 4000);
    assert.equal(idx.size, docs.size);
    assertSameRanking(idx.search(terms, { brandIds: null }, 10), bruteForce(docs, terms, null, 10));
  });
  it('answers from the high tiers of long lists exactly as scoring every posting does: brands, filters, repeated terms, changes, compaction, rebuilds, a drifting average length', () => {
    const r = rng(23);
    const tiered = new InvertedIndex({ rebuildAfterDead: 20_000 });
    const whole = new InvertedIndex({ rebuildAfterDead: 20_000, tiers: false });
    const brands = ['a', 'b', 'c'];
    const live = new Set<number>();
    const upsert = (id: number, f: KeywordFields) => {
      for (const idx of [tiered, whole]) idx.upsert(id, brands[id % 3]!, f);
      live.add(id);
    };
    const remove = (id: number) => {
      for (const idx of [tiered, whole]) idx.remove(id);
      live.delete(id);
    };
    const longDoc = (): KeywordFields => ({ subject: randomText(r, 4), body: randomText(r, 90 + Math.floor(r() * 60)), meta: '' });
    let next = 1;
    for (; next <= 24_000; next++) upsert(next, randomDoc(r));
    let searches = 0;
    // The same queries at every stage: a tier is built only where a list was compacted, the
    // average length drifted, or a rebuild renumbered the slots.
    const check = (stage: string) => {
      const r = rng(99);
      for (let q = 0; q < 80; q++) {
        // Common words (the vocabulary is skewed), one to four, a word sometimes twice.
        const terms = Array.from({ length: 1 + Math.floor(r() * 4) }, () => VOCAB[Math.floor(VOCAB.length * r() * r() * r())]!);
        if (q % 7 === 0) terms.push(terms[0]!);
        const k = [1, 5, 21, 32][q % 4]!;
        const brandIds = [['a'], ['a', 'b'], null][q % 3]!;
        const accept = q % 5 === 0 ? (doc: number) => doc % 4 !== 0 : null;
        const got = tiered.search(terms, { brandIds, accept }, k);
        assert.deepEqual(got, whole.search(terms, { brandIds, accept }, k), `${stage}, query ${q}: ${terms.join(' ')}, k ${k}`);
        assert.equal(got.length, k, `${stage}, query ${q}: a full page`);
        searches++;
      }
    };
    check('fresh');
    assert.ok(tiered.tiersBuilt > 0, 'tiers were built');
    assert.ok(tiered.tieredAnswers >= 30, `the tiers answered ${tiered.tieredAnswers} of ${searches}`);
    assert.ok(tiered.exactScored > 0, 'documents outside a tier were looked up');
    assert.ok(tiered.postingsRead < whole.postingsRead / 2, `postings read: ${tiered.postingsRead} by the tiers, ${whole.postingsRead} whole`);

    // New text for some (the old slot dies, the new one joins a tier when high), removals: lists
    // compacted at a quarter dead drop their tiers, built again by the next search.
    for (let i = 0; i < 5000; i++) upsert(1 + Math.floor(r() * 24_000), randomDoc(r));
    for (let i = 0; i < 4000; i++) remove(1 + Math.floor(r() * 24_000));
    const built = tiered.tiersBuilt;
    check('after changes');
    assert.ok(tiered.tiersBuilt > built, 'compacted lists got new tiers');

    // Longer documents raise the average length: at first within the drift a tier is kept through
    // (its bound loosens), then past it (tiers built again).
    const avgBefore = tiered.tiersBuilt;
    for (let i = 0; i < 1000; i++) upsert(next++, longDoc());
    check('average length up a little');
    // (a few lists grew long enough for a tier of their own meanwhile)
    assert.ok(tiered.tiersBuilt - avgBefore < 10, `tiers kept within the drift: ${tiered.tiersBuilt - avgBefore} built`);
    for (let i = 0; i < 8000; i++) upsert(next++, longDoc());
    check('average length up a lot');
    assert.ok(tiered.tiersBuilt > avgBefore, 'tiers built again past the drift');

    // A rebuild renumbers every slot: the tiers go with it.
    const rebuilds = tiered.rebuilds;
    for (const id of [...live].slice(0, Math.floor(live.size * 0.6))) remove(id);
    assert.ok(tiered.rebuilds > rebuilds, 'the pool was rebuilt');
    check('after a rebuild');
    assert.ok(
      tiered.tieredAnswers > searches / 3 && tiered.tieredFallbacks < tiered.tieredAnswers,
      `the tiers answered ${tiered.tieredAnswers} of ${searches}, ${tiered.tieredFallbacks} fell back`,
    );
  });

  /** Three indexes fed the same changes: tiers built ahead (`tierSteps`), tiers built by the searches, no tiers. */
  function tieredTrio(options: { rebuildAfterDead: number; rebuildInSteps?: boolean }) {
    const ahead = new InvertedIndex({ ...options, rebuildStep: 4096 });
    const lazy = new InvertedIndex(options);
    const whole = new InvertedIndex({ ...options, tiers: false });
    const brands = ['a', 'b', 'c'];
    const live = new Set<number>();
    return {
      ahead,
      lazy,
      whole,
      live,
      upsert(id: number, f: KeywordFields) {
        for (const idx of [ahead, lazy, whole]) idx.upsert(id, brands[id % 3]!, f);
        live.add(id);
      },
      remove(id: number) {
        for (const idx of [ahead, lazy, whole]) idx.remove(id);
        live.delete(id);
      },
      /** Common words, one to four, in brands and with filters as a page of keyword search asks; returns the searches made. */
      check(stage: string): number {
        const r = rng(99);
        for (let q = 0; q < 80; q++) {
          const terms = Array.from({ length: 1 + Math.floor(r() * 4) }, () => VOCAB[Math.floor(VOCAB.length * r() * r() * r())]!);
          const k = [1, 5, 21, 32][q % 4]!;
          const brandIds = [['a'], ['a', 'b'], null][q % 3]!;
          const accept = q % 5 === 0 ? (doc: number) => doc % 4 !== 0 : null;
          const want = whole.search(terms, { brandIds, accept }, k);
          assert.deepEqual(ahead.search(terms, { brandIds, accept }, k), want, `${stage}, query ${q}: ${terms.join(' ')}, k ${k}`);
          assert.deepEqual(lazy.search(terms, { brandIds, accept }, k), want, `${stage}, query ${q}, tiers built by the searches`);
        }
        return 80;
      },
    };
  }

  /** Runs `steps` to the end; the tiers each step built. */
  function tiersPerStep(idx: InvertedIndex, steps: Generator<void, void, void>, between?: () => void): number[] {
    const built: number[] = [];
    let before = idx.tiersBuilt;
    for (const _ of steps) {
      built.push(idx.tiersBuilt - before);
      between?.();
      before = idx.tiersBuilt;
    }
    built.push(idx.tiersBuilt - before);
    return built;
  }

  it('builds the high tiers of every long list ahead of the searches, in steps: the searches then build none and rank as scoring every posting does', () => {
    const r = rng(31);
    const trio = tieredTrio({ rebuildAfterDead: 20_000 });
    const { ahead, lazy } = trio;
    let next = 1;
    for (; next <= 24_000; next++) trio.upsert(next, randomDoc(r));
    assert.equal(ahead.tierBytes, 0);

    // Steps of 4,096 postings' work, and a tier reads its list twice (1,024 postings or more): at
    // most two tiers a step.
    const built = tiersPerStep(ahead, ahead.tierSteps());
    assert.ok(built.length > 5, `${built.length} steps`);
    assert.ok(Math.max(...built) <= 2, `tiers built a step: ${built.join(' ')}`);
    const tiers = ahead.tiersBuilt;
    assert.ok(tiers > 0 && ahead.tierBytes > 0 && ahead.tierBytes < ahead.bytes, `${tiers} tiers, ${ahead.tierBytes} of ${ahead.bytes} bytes`);
    // Nothing missing or drifted: a second walk builds nothing.
    for (const _ of ahead.tierSteps());
    assert.equal(ahead.tiersBuilt, tiers);

    const searches = trio.check('fresh');
    assert.equal(ahead.tiersBuilt, tiers, 'no search built a tier');
    assert.ok(lazy.tiersBuilt > 0 && lazy.tiersBuilt <= tiers, `the same searches built ${lazy.tiersBuilt} tiers where none were built ahead`);
    assert.ok(ahead.tieredAnswers >= 30 && ahead.tieredAnswers === lazy.tieredAnswers, `the tiers answered ${ahead.tieredAnswers} of ${searches}`);

    // New text for some, removals: a quarter of a list dead or more, the first search to read it
    // would compact it and drop its tier. The walk compacts it first, as that search would.
    for (let i = 0; i < 4000; i++) trio.upsert(1 + Math.floor(r() * 24_000), randomDoc(r));
    for (let i = 0; i < 5000; i++) trio.remove(1 + Math.floor(r() * 24_000));
    for (const _ of ahead.tierSteps());
    const afterChanges = ahead.tiersBuilt;
    assert.ok(afterChanges > tiers, 'compacted lists got new tiers');
    trio.check('after changes');
    assert.equal(ahead.tiersBuilt, afterChanges, 'no search built a tier');

    // Longer documents move the average length past the drift a tier is kept through: the next
    // walk builds them all again, and changes between its steps (more long documents, removals)
    // find it half done.
    const longDoc = (): KeywordFields => ({ subject: randomText(r, 4), body: randomText(r, 90 + Math.floor(r() * 60)), meta: '' });
    for (let i = 0; i < 3000; i++) trio.upsert(next++, longDoc());
    const drifted = ahead.tiersBuilt;
    const steps = tiersPerStep(ahead, ahead.tierSteps(), () => {
      for (let i = 0; i < 50; i++) trio.upsert(next++, longDoc());
      trio.remove(1 + Math.floor(r() * 24_000));
    });
    assert.ok(steps.length > 5, `${steps.length} steps`);
    assert.ok(ahead.tiersBuilt - drifted >= afterChanges / 2, `${ahead.tiersBuilt - drifted} tiers built again past the drift`);
    trio.check('changes between the steps');
    // Without changes after it, a walk leaves nothing for the searches to build.
    for (const _ of ahead.tierSteps());
    const walked = ahead.tiersBuilt;
    trio.check('after a walk');
    assert.equal(ahead.tiersBuilt, walked, 'no search built a tier');
    assert.ok(ahead.tierBytes > 0);
  });

  it('tier steps and rebuilds: a walk stops while a rebuild in steps is under way, and starts over after one swapped in between two of its steps', () => {
    const r = rng(37);
    const trio = tieredTrio({ rebuildAfterDead: 1000, rebuildInSteps: true });
    const { ahead, lazy } = trio;
    let next = 1;
    for (; next <= 24_000; next++) trio.upsert(next, randomDoc(r));
    const removeUntilDue = () => {
      for (const id of trio.live) {
        if (ahead.rebuildDue) break;
        trio.remove(id);
      }
      // The same rebuild for the index whose searches build the tiers.
      for (const _ of lazy.compactSteps());
    };

    const walk = ahead.tierSteps();
    for (let i = 0; i < 3; i++) assert.equal(walk.next().done, false);
    assert.ok(ahead.tiersBuilt > 0);
    removeUntilDue();
    const rebuild = ahead.compactSteps();
    rebuild.next();
    assert.ok(ahead.rebuildUnderWay);
    // Tiers built now would hold the slot numbers the swap replaces.
    const before = ahead.tiersBuilt;
    assert.equal(walk.next().done, true, 'the walk under way stops');
    assert.equal([...ahead.tierSteps()].length, 0, 'a new walk stops at once');
    assert.equal(ahead.tiersBuilt, before);
    for (const _ of rebuild);
    assert.equal(ahead.rebuilds, 1);
    assert.equal(ahead.tierBytes, 0, 'the swap dropped every tier');
    trio.check('after the first rebuild');
    for (const end = next + 12_000; next < end; next++) trio.upsert(next, randomDoc(r));

    // A rebuild that begins and ends between two steps: the tiers built before it are gone with
    // it, so the walk starts over (else the searches would build those lists' tiers).
    const again = ahead.tierSteps();
    for (let i = 0; i < 3; i++) assert.equal(again.next().done, false);
    removeUntilDue();
    for (const _ of ahead.compactSteps());
    assert.equal(ahead.rebuilds, 2);
    for (const _ of again);
    const built = ahead.tiersBuilt;
    const builtBySearches = lazy.tiersBuilt;
    const answered = ahead.tieredAnswers;
    trio.check('after the second rebuild');
    assert.equal(ahead.tiersBuilt, built, 'no search built a tier');
    assert.ok(lazy.tiersBuilt > builtBySearches, 'where none were built ahead, the same searches built tiers');
    assert.ok(ahead.tieredAnswers - answered >= 10, `the tiers answered ${ahead.tieredAnswers - answered} of 80`);
  });
});
