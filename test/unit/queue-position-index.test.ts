import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodesToSum, nodesToUpdate, positionKey } from '../../src/queues/position-index.js';

/** The tree held in a Map, as the table holds it: node -> count. */
function tree() {
  const nodes = new Map<number, number>();
  return {
    add(key: number, delta: number) {
      for (const n of nodesToUpdate(key)) nodes.set(n, (nodes.get(n) ?? 0) + delta);
    },
    countBefore(key: number) {
      return nodesToSum(key - 1).reduce((sum, n) => sum + (nodes.get(n) ?? 0), 0);
    },
    size: () => nodes.size,
  };
}

describe('queue position index', () => {
  it('orders by priority rank, then arrival', () => {
    assert.ok(positionKey(0, 2 ** 32 - 1) < positionKey(1, 1));
    assert.ok(positionKey(2, 5) < positionKey(2, 6));
  });

  it('refuses keys outside the tree', () => {
    assert.throws(() => positionKey(4, 1), RangeError);
    assert.throws(() => positionKey(0, 0), RangeError);
    assert.throws(() => positionKey(0, 2 ** 32), RangeError);
    assert.throws(() => positionKey(1.5, 1), RangeError);
  });

  it('touches at most 35 nodes per change or query', () => {
    for (const key of [positionKey(0, 1), positionKey(3, 2 ** 32 - 1), positionKey(1, 123_456_789), positionKey(2, 2 ** 31)]) {
      assert.ok(nodesToUpdate(key).length <= 35, `update ${key}`);
      assert.ok(nodesToSum(key).length <= 35, `sum ${key}`);
    }
  });

  it('counts exactly what a scan counts, through arrivals and departures in any order', () => {
    // A seeded generator: the same sequence on every run.
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const t = tree();
    const waiting = new Set<number>();
    let seq = 0;
    for (let step = 0; step < 5000; step++) {
      if (waiting.size === 0 || random() < 0.6) {
        const key = positionKey(Math.floor(random() * 4), (++seq * 7919) % 2 ** 32 || 1);
        if (waiting.has(key)) continue;
        waiting.add(key);
        t.add(key, 1);
      } else {
        const keys = [...waiting];
        const key = keys[Math.floor(random() * keys.length)]!;
        waiting.delete(key);
        t.add(key, -1);
      }
      if (step % 50 === 0) {
        for (const key of [...waiting].slice(0, 20)) {
          const scan = [...waiting].filter((k) => k < key).length;
          assert.equal(t.countBefore(key), scan);
        }
      }
    }
  });
});
