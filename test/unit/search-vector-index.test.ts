import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VectorIndex, decodeVector, encodeVector } from '../../src/search/vector-index.js';
import { highlightText } from '../../src/search/highlight.js';
import { formatDuration, progressReporter } from '../../src/cli/extra.js';

const unit = (xs: number[]) => {
  const v = Float32Array.from(xs);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};

describe('VectorIndex', () => {
  it('quantises to int8 with a small error', () => {
    const v = unit([0.3, -0.9, 0.1, 0.05]);
    const back = decodeVector(encodeVector(v));
    for (let i = 0; i < v.length; i++) assert.ok(Math.abs(back[i]! - v[i]!) < 0.01);
  });

  it('returns the nearest vectors of the allowed brands only, and follows updates', () => {
    const idx = new VectorIndex(4);
    idx.upsert(1, 'brand_a', encodeVector(unit([1, 0, 0, 0])));
    idx.upsert(2, 'brand_a', encodeVector(unit([0, 1, 0, 0])));
    idx.upsert(3, 'brand_b', encodeVector(unit([1, 0.01, 0, 0])));
    const q = unit([1, 0.1, 0, 0]);
    assert.deepEqual(
      idx.search(q, ['brand_a'], 2).map((h) => h.id),
      [1, 2],
    );
    assert.deepEqual(
      idx.search(q, ['brand_b'], 5).map((h) => h.id),
      [3],
    );
    assert.deepEqual(idx.search(q, [], 5), []);
    assert.equal(idx.search(q, null, 3).length, 3);
    idx.upsert(1, 'brand_a', encodeVector(unit([0, 0, 1, 0])));
    assert.deepEqual(
      idx.search(q, ['brand_a'], 1).map((h) => h.id),
      [2],
    );
    assert.deepEqual(
      idx.searchAmong(q, [1, 3, 99], 5).map((h) => h.id),
      [3, 1],
    );
    assert.equal(idx.size, 3);
  });

  it('keeps the k best of many (heap) in order', () => {
    const idx = new VectorIndex(100);
    for (let i = 1; i <= 3000; i++) idx.upsert(i, 'b', encodeVector(unit(Array.from({ length: 100 }, (_, j) => Math.sin(i * (j + 1))))));
    const q = idx.vectorOf(1234)!;
    const top = idx.search(q, ['b'], 10);
    assert.ok(top.some((h) => h.id === 1234) && top[0]!.score > 0.99);
    assert.equal(top.length, 10);
    for (let i = 1; i < top.length; i++) assert.ok(top[i - 1]!.score >= top[i]!.score);
  });

  // 100 dimensions: the built-in embedder's, its codes read as 32-bit words; 42: 11 code bytes a
  // vector stored 12 apart, read byte by byte.
  for (const dims of [100, 42])
    it(`approximate first pass ranks as the exact scan where the codes are exact: vectors of ±1 (${dims} dimensions)`, () => {
      // Every component is "large" with its sign, so a vector's code score is the exact score
      // times one constant: with the fewest candidates (8k = 80 for k = 10) the top k
      // must come out identical. A code byte read from the wrong place breaks this.
      let seed = 5;
      const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
      const idx = new VectorIndex(dims);
      for (let i = 1; i <= 20_000; i++) idx.upsert(i, 'b', encodeVector(unit(Array.from({ length: dims }, () => (rand() < 0.5 ? -1 : 1)))));
      const saved = [VectorIndex.approximateFrom, VectorIndex.minCandidates];
      VectorIndex.approximateFrom = 1000;
      VectorIndex.minCandidates = 0;
      try {
        for (let q = 0; q < 5; q++) {
          const query = unit(Array.from({ length: dims }, () => rand() - 0.5));
          const exact = idx.search(query, ['b'], 10, { exact: true });
          assert.deepEqual(
            idx.search(query, ['b'], 10).map((h) => h.id),
            exact.map((h) => h.id),
          );
        }
      } finally {
        [VectorIndex.approximateFrom, VectorIndex.minCandidates] = saved as [number, number];
      }
    });

  for (const dims of [100, 42])
    it(`approximate first pass (2-bit codes, exact rescoring) keeps recall >= 0.95 of the exact top k (${dims} dimensions)`, () => {
      let seed = 9;
      const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
      const centres = Array.from({ length: 50 }, () => Array.from({ length: dims }, () => rand() - 0.5));
      const idx = new VectorIndex(dims);
      for (let i = 1; i <= 30_000; i++) idx.upsert(i, 'b', encodeVector(unit(centres[i % 50]!.map((x) => x + (rand() - 0.5) * 0.9))));
      idx.upsert(30_001, 'other', encodeVector(unit(centres[0]!)));
      const saved = VectorIndex.approximateFrom;
      VectorIndex.approximateFrom = 1000;
      try {
        let recall = 0;
        for (let q = 0; q < 10; q++) {
          const query = unit(centres[q * 3]!.map((x) => x + (rand() - 0.5) * 0.5));
          const exact = idx.search(query, ['b'], 500, { exact: true });
          const approx = idx.search(query, ['b'], 500);
          assert.equal(approx.length, 500);
          // Scores of the approximate result are exact scores (rescored), in order.
          const exactScore = new Map(exact.map((h) => [h.id, h.score]));
          for (let i = 1; i < approx.length; i++) assert.ok(approx[i - 1]!.score >= approx[i]!.score);
          for (const h of approx) if (exactScore.has(h.id)) assert.ok(Math.abs(exactScore.get(h.id)! - h.score) < 1e-4);
          const got = new Set(approx.map((h) => h.id));
          recall += exact.filter((h) => got.has(h.id)).length / exact.length;
          assert.ok(!got.has(30_001), 'other brands stay out');
        }
        assert.ok(recall / 10 >= 0.95, `recall ${recall / 10}`);
      } finally {
        VectorIndex.approximateFrom = saved;
      }
    });
});

describe('highlightText', () => {
  it('marks words whose analysed form matches a query term', () => {
    const h = highlightText('message', 'We are refunding the charge; refunds take 3 days.', new Set(['refund']))!;
    assert.deepEqual(
      h.ranges.map(([s, e]) => h.text.slice(s, e)),
      ['refunding', 'refunds'],
    );
    assert.equal(highlightText('subject', 'nothing here', new Set(['refund'])), null);
  });
});

describe('reindex progress', () => {
  it('prints a bar with rate and ETA', () => {
    const lines: string[] = [];
    const report = progressReporter('reindex', (t) => lines.push(t), false);
    report(0, 100);
    report(50, 100);
    report(100, 100);
    assert.match(lines.at(-1)!, /reindex \[#+\] 100% 100\/100 \d+\/s ETA 0s/);
    assert.equal(formatDuration(3725), '1h02m');
    assert.equal(formatDuration(65), '1m05s');
  });
});
