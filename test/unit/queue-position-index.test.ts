import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BUCKET_BITS, bucketsBefore, nodesToSum, nodesToUpdate, positionKey } from '../../src/queues/position-index.js';

/**
 * The tree held in a Map, as the table holds it (node -> count), beside the waiting keys, which
 * stand for the partial index that counts inside a bucket.
 */
function tree() {
  const nodes = new Map<number, number>();
  const keys = new Set<number>();
  return {
    add(key: number, delta: number) {
      for (const n of nodesToUpdate(key)) nodes.set(n, (nodes.get(n) ?? 0) + delta);
      if (delta > 0) keys.add(key);
      else keys.delete(key);
    },
    countBefore(key: number) {
      const inBuckets = nodesToSum(key).reduce((sum, n) => sum + (nodes.get(n) ?? 0), 0);
      const inBucket = [...keys].filter((k) => k < key && bucketsBefore(k) === bucketsBefore(key)).length;
      return inBuckets + inBucket;
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

  it('touches at most 25 nodes per change and 24 per query, all within the tree', () => {
    for (const key of [positionKey(0, 1), positionKey(3, 2 ** 32 - 1), positionKey(1, 123_456_789), positionKey(2, 2 ** 31)]) {
      assert.ok(nodesToUpdate(key).length <= 25, `update ${key}`);
      assert.ok(nodesToSum(key).length <= 24, `sum ${key}`);
      for (const n of [...nodesToUpdate(key), ...nodesToSum(key)]) assert.ok(n >= 1 && n <= 2 ** 24, `node ${n} of ${key}`);
    }
    // The root counts every waiting ticket.
    assert.equal(nodesToUpdate(positionKey(3, 2 ** 32 - 1)).at(-1), 2 ** 24);
    assert.equal(nodesToUpdate(positionKey(0, 1)).at(-1), 2 ** 24);
  });

  it('puts keys of one bucket on one path, and counts none of their bucket in the tree', () => {
    const first = positionKey(1, 5 * 2 ** BUCKET_BITS);
    const last = first + 2 ** BUCKET_BITS - 1;
    assert.deepEqual(nodesToUpdate(first), nodesToUpdate(last));
    assert.deepEqual(nodesToSum(first), nodesToSum(last));
    assert.notDeepEqual(nodesToUpdate(last + 1), nodesToUpdate(last));
    assert.deepEqual(nodesToSum(positionKey(0, 1)), []);
  });

  for (const [spacing, arrivals] of [
    ['spread over the key space', (n: number) => (n * 7919) % 2 ** 32 || 1],
    ['many to a bucket', (n: number) => n],
  ] as const)
    it(`counts exactly what a scan counts, through arrivals and departures in any order (arrivals ${spacing})`, () => {
      // A seeded generator: the same sequence on every run.
      let seed = 42;
      const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const t = tree();
      const waiting = new Set<number>();
      let seq = 0;
      for (let step = 0; step < 5000; step++) {
        if (waiting.size === 0 || random() < 0.6) {
          const key = positionKey(Math.floor(random() * 4), arrivals(++seq));
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
