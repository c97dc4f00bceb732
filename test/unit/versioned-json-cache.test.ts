import assert from 'node:assert/strict';
import { it } from 'node:test';
import { VersionedJsonCache } from '../../src/tickets/detail-cache.js';

const json = (n: number) => `{"n":${String(n).padStart(5, '0')}}`; // 11 bytes each

it('serves an entry for its own version only, and keeps what was stored beside it', () => {
  const cache = new VersionedJsonCache<{ etag: string }>();
  cache.set('a', 3, json(1), { etag: 'W/"3"' });
  assert.equal(cache.entry('a', 2), undefined);
  assert.equal(cache.entry('a', 3)?.json.toString(), json(1));
  assert.equal(cache.entry('a', 3)?.meta.etag, 'W/"3"');
  cache.set('a', 4, json(2), { etag: 'W/"4"' });
  assert.equal(cache.entry('a', 3), undefined, 'replaced, never served for the old version');
});

it('stays within its budget, dropping the entries read least recently first', () => {
  // Sixteen entries of 11 bytes (one may take at most a sixteenth of the budget).
  const cache = new VersionedJsonCache(16 * 11);
  for (let i = 0; i < 16; i++) cache.set(`t${i}`, 1, json(i));
  // t0 and t1 are the oldest; reading t0 moves it to the back, so t1 goes first.
  assert.ok(cache.get('t0', 1));
  cache.set('t16', 1, json(16));
  assert.equal(cache.get('t1', 1), undefined);
  assert.ok(cache.get('t0', 1), 'the entry read was kept');
  for (let i = 17; i < 40; i++) cache.set(`t${i}`, 1, json(i));
  const kept = Array.from({ length: 40 }, (_, i) => cache.get(`t${i}`, 1)).filter(Boolean).length;
  assert.equal(kept, 16, 'sixteen entries of 11 bytes fill the budget');
  assert.ok(cache.get('t39', 1) && !cache.get('t0', 1));
});

it('with admitOnSecondSet, keeps a ticket only from its second set on', () => {
  const cache = new VersionedJsonCache(1024, { admitOnSecondSet: true });
  assert.equal(cache.set('a', 1, json(1)).toString(), json(1), 'the bytes are returned either way');
  assert.equal(cache.get('a', 1), undefined, 'a first set keeps nothing');
  cache.set('a', 1, json(1));
  assert.equal(cache.get('a', 1)?.toString(), json(1), 'the second is kept');
  // Once kept, a new version replaces the entry at once.
  cache.set('a', 2, json(2));
  assert.equal(cache.get('a', 2)?.toString(), json(2));
  // Thousands of tickets set once each leave nothing kept, and the one set twice is still there.
  for (let i = 0; i < 5000; i++) cache.set(`once-${i}`, 1, json(i));
  assert.equal(Array.from({ length: 5000 }, (_, i) => cache.get(`once-${i}`, 1)).filter(Boolean).length, 0);
  assert.equal(cache.get('a', 2)?.toString(), json(2));
});
