import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fuseResults } from '../../src/search/text/fusion.js';
import type { ScoredHit } from '../../src/search/text/fusion.js';

const kw: ScoredHit<string>[] = [
  { id: 'a', score: 12.5 },
  { id: 'b', score: 7 },
  { id: 'c', score: 0.5 },
];
const sem: ScoredHit<string>[] = [
  { id: 'b', score: 0.91 },
  { id: 'd', score: 0.8 },
  { id: 'a', score: 0.2 },
];

function pseudoRandom(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

describe('fuseResults', () => {
  for (const method of ['blend', 'rrf'] as const) {
    it(`${method}: scores and components are within [0,1], sorted, one entry per id`, () => {
      const rand = pseudoRandom(method === 'blend' ? 7 : 11);
      for (let trial = 0; trial < 200; trial++) {
        const mk = (n: number, scale: number): ScoredHit<number>[] =>
          Array.from({ length: n }, () => ({ id: Math.floor(rand() * 30), score: (rand() * 2 - 0.5) * scale })).sort((x, y) => y.score - x.score);
        const fused = fuseResults(mk(Math.floor(rand() * 20), 30), mk(Math.floor(rand() * 20), 1), {
          method,
          keywordWeight: rand(),
        });
        const ids = new Set<number>();
        for (const [i, h] of fused.entries()) {
          assert.ok(h.score >= 0 && h.score <= 1, `score ${h.score}`);
          for (const c of [h.keyword, h.semantic]) if (c) assert.ok(c.normalized >= 0 && c.normalized <= 1);
          if (i > 0) assert.ok(fused[i - 1]!.score >= h.score);
          assert.ok(!ids.has(h.id));
          ids.add(h.id);
        }
      }
    });
  }

  it('blend: best on both sides scores 1, and components are reported', () => {
    const fused = fuseResults([{ id: 'x', score: 3 }], [{ id: 'x', score: 0.5 }], { method: 'blend' });
    assert.equal(fused[0]!.score, 1);
    const mixed = fuseResults(kw, sem, { method: 'blend', keywordWeight: 0.5 });
    const b = mixed.find((h) => h.id === 'b')!;
    assert.equal(b.keyword?.rank, 2);
    assert.equal(b.semantic?.rank, 1);
    assert.equal(b.semantic?.normalized, 1);
    assert.ok(Math.abs(b.keyword!.normalized - 7 / 12.5) < 1e-12);
    assert.ok(Math.abs(b.score - ((0.5 * 7) / 12.5 + 0.5)) < 1e-12);
    assert.equal(mixed.find((h) => h.id === 'd')!.keyword, null);
    assert.deepEqual(
      mixed.map((h) => h.id),
      ['b', 'a', 'd', 'c'],
    );
  });

  it('rrf: rank 1 on both sides scores exactly 1; weights 1/0 reproduce one side', () => {
    const both = fuseResults([{ id: 1, score: 9 }], [{ id: 1, score: 0.1 }], { method: 'rrf' });
    assert.equal(both[0]!.score, 1);
    const kwOnly = fuseResults(kw, sem, { method: 'rrf', keywordWeight: 1 });
    assert.deepEqual(
      kwOnly.slice(0, 3).map((h) => h.id),
      ['a', 'b', 'c'],
    );
  });

  it('handles empty and degenerate inputs', () => {
    assert.deepEqual(fuseResults([], []), []);
    const nan = fuseResults([{ id: 1, score: Number.NaN }], [{ id: 1, score: Number.POSITIVE_INFINITY }]);
    assert.ok(nan[0]!.score >= 0 && nan[0]!.score <= 1);
    assert.equal(fuseResults(kw, sem, { limit: 2 }).length, 2);
  });
  it('blend with fixed semantic bounds: an absolute scale, not the best of this query', () => {
    const bounds = { low: 0.45, high: 1 };
    const weak = fuseResults<string>(
      [],
      [
        { id: 'p', score: 0.5 },
        { id: 'q', score: 0.4 },
      ],
      { method: 'blend', keywordWeight: 0, semanticBounds: bounds },
    );
    assert.ok(Math.abs(weak[0]!.semantic!.normalized - 0.05 / 0.55) < 1e-9, 'the best of weak hits stays weak');
    assert.equal(weak[1]!.semantic!.normalized, 0);
    const strong = fuseResults<string>([{ id: 's', score: 2 }], [{ id: 's', score: 1 }], { method: 'blend', semanticBounds: bounds });
    assert.equal(strong[0]!.score, 1);
    // Min-max (no bounds) makes the best of the same weak hits 1 and the other 0.
    const minMax = fuseResults<string>(
      [],
      [
        { id: 'p', score: 0.5 },
        { id: 'q', score: 0.4 },
      ],
      { method: 'blend', keywordWeight: 0 },
    );
    assert.deepEqual(
      minMax.map((h) => h.semantic!.normalized),
      [1, 0],
    );
  });
});
