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
    assert.deepEqual(idx.search(q, ['brand_a'], 2).map((h) => h.id), [1, 2]);
    assert.deepEqual(idx.search(q, ['brand_b'], 5).map((h) => h.id), [3]);
    assert.deepEqual(idx.search(q, [], 5), []);
    assert.equal(idx.search(q, null, 3).length, 3);
    idx.upsert(1, 'brand_a', encodeVector(unit([0, 0, 1, 0])));
    assert.deepEqual(idx.search(q, ['brand_a'], 1).map((h) => h.id), [2]);
    assert.deepEqual(idx.searchAmong(q, [1, 3, 99], 5).map((h) => h.id), [3, 1]);
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
});

describe('highlightText', () => {
  it('marks words whose analysed form matches a query term', () => {
    const h = highlightText('message', 'We are refunding the charge; refunds take 3 days.', new Set(['refund']))!;
    assert.deepEqual(h.ranges.map(([s, e]) => h.text.slice(s, e)), ['refunding', 'refunds']);
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
