import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { ManualClock } from '../../src/shared/clock.js';
import { type TestApp, buildTestApp, removeDataDir } from '../helpers/app.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A token's `last_used_at` is recorded at most once a minute and written behind the request that
 * used it (src/auth/token-service.ts, `tokenUses`): within seconds, and before the server stops.
 */

async function lastUsedAt(t: TestApp, tokenId: string): Promise<string | null> {
  return (await t.runtime.db.selectFrom('tokens').select('last_used_at').where('id', '=', tokenId).executeTakeFirstOrThrow()).last_used_at;
}

it('a token’s use is written behind the request, at most once a minute, and before a stop', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-token-use-'));
  const open = new Set<TestApp>();
  t.after(async () => {
    for (const app of open) await app.close();
    await removeDataDir(dataDir);
  });
  const first = await buildTestApp({ dataDir, clock: new ManualClock('2026-03-01T09:00:00Z') });
  open.add(first);
  const secret = await first.token(['tickets:read']);
  const me = await first.request({ method: 'GET', url: '/v1/tokens/me', token: secret });
  assert.equal(me.statusCode, 200, me.body);
  const tokenId = me.json().id;
  assert.equal(await waitFor('the use is written', 60_000, async () => (await lastUsedAt(first, tokenId)) ?? undefined), '2026-03-01T09:00:00Z');

  // Within the minute: not recorded again, even across a stop.
  first.clock.advance(30_000);
  assert.equal((await first.request({ method: 'GET', url: '/v1/tokens/me', token: secret })).statusCode, 200);
  open.delete(first);
  await first.close();

  // A later use in another process, written when that process stops (well before its timer).
  const second = await buildTestApp({ dataDir, clock: new ManualClock('2026-03-01T09:05:00Z') });
  open.add(second);
  assert.equal(await lastUsedAt(second, tokenId), '2026-03-01T09:00:00Z', 'the use 30 s later was not recorded');
  assert.equal((await second.request({ method: 'GET', url: '/v1/tokens/me', token: secret })).statusCode, 200);
  open.delete(second);
  await second.close();
  const third = await buildTestApp({ dataDir });
  open.add(third);
  assert.equal(await lastUsedAt(third, tokenId), '2026-03-01T09:05:00Z');
});
