import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ShardedStringMap, shardOf } from '../../src/shared/sharded-string-map.js';

it('keeps keys of any length, the empty one too, and lists each entry once', () => {
  const map = new ShardedStringMap<number>();
  const keys = ['', 'a', 'ab', 'ba', 'café', '𝔘nicode', 'x'.repeat(300)];
  for (const [value, key] of keys.entries()) map.set(key, value);
  map.set('ab', 2);
  assert.equal(map.size, keys.length, 'a key set again is not counted twice');
  for (const [value, key] of keys.entries()) assert.equal(map.get(key), value, JSON.stringify(key));
  assert.equal(map.has('abc'), false);
  assert.equal(map.get('abc'), undefined);
  assert.deepEqual(
    [...map].sort((a, b) => a[1] - b[1]),
    keys.map((key, value) => [key, value]),
  );
});

it('spreads the keys the search indexes hold over its maps, none holding twice its share', () => {
  // Order numbers (a million of them are terms at a million tickets) and words of every length.
  const keys: string[] = [];
  for (let i = 0; i < 50_000; i++) keys.push(`ord${i}`, `${100_000 + i * 7}`);
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  for (let i = 0; i < 50_000; i++) {
    let w = '';
    for (let n = 1 + (i % 11), x = i; n > 0; n--, x = Math.floor(x / 26) + n * 7) w += letters[x % 26];
    keys.push(w);
  }
  const counts = new Array<number>(16).fill(0);
  for (const k of keys) counts[shardOf(k)]!++;
  const share = keys.length / 16;
  assert.ok(Math.max(...counts) < 2 * share, `maps hold ${counts.join(', ')} of ${keys.length}`);
});
