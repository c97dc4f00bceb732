import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem } from '../helpers/factories.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read as loose JSON here
type Json = any;

/*
 * Requests that claim one unique key at the same moment: each checks first and finds it free (on
 * PostgreSQL neither sees the other's uncommitted row), so the unique index decides. The loser must
 * get the same 409 problem as a request that came later, never a 500, and nothing of it is stored.
 */
describe('concurrent claims of one unique key', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  const countWhere = async (table: 'agents' | 'brands' | 'brand_email_addresses', column: string, value: string) =>
    Number(
      (
        await t.runtime.db
          .selectFrom(table)
          // biome-ignore lint/suspicious/noExplicitAny: the column is one of the table's, named by the caller
          .where(column as any, '=', value)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  /** Sends the requests at once; exactly one succeeds with `ok`, the others are 409 conflict problems. */
  async function race(requests: { method: 'POST' | 'PATCH'; url: string; body: Json }[], ok: number): Promise<void> {
    const responses = await Promise.all(requests.map((r) => t.request(r)));
    const won = responses.filter((r) => r.statusCode === ok);
    assert.equal(won.length, 1, responses.map((r) => `${r.statusCode} ${r.body}`).join('\n'));
    for (const r of responses) if (r.statusCode !== ok) assertProblem(r, 409, 'conflict');
  }

  it('agents created at once with one address: one 201, the others 409 at /email, one row', async () => {
    const email = 'same@support.example.com';
    await race(
      Array.from({ length: 6 }, (_, i) => ({
        method: 'POST' as const,
        url: '/v1/agents',
        body: { name: `Agent ${i}`, email: i % 2 ? email : email.toUpperCase() },
      })),
      201,
    );
    assert.equal(await countWhere('agents', 'email', email), 1);
    const again = assertProblem(await t.request({ method: 'POST', url: '/v1/agents', body: { name: 'Late', email } }), 409, 'conflict');
    assert.equal(again.errors[0].pointer, '/email');
  });

  it('agents renamed at once to one address: one 200, the others 409, the others keep theirs', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await t.request({ method: 'POST', url: '/v1/agents', body: { name: `R${i}`, email: `r${i}@support.example.com` } });
      assert.equal(res.statusCode, 201, res.body);
      ids.push(res.json().id);
    }
    const email = 'wanted@support.example.com';
    await race(
      ids.map((id) => ({ method: 'PATCH' as const, url: `/v1/agents/${id}`, body: { email } })),
      200,
    );
    assert.equal(await countWhere('agents', 'email', email), 1);
    const kept = await t.runtime.db.selectFrom('agents').select('email').where('id', 'in', ids).execute();
    assert.equal(kept.filter((r) => r.email.startsWith('r')).length, 3);
  });

  it('brands created at once with one chosen id, or one address: one 201, the others 409, nothing else stored', async () => {
    await race(
      Array.from({ length: 5 }, (_, i) => ({ method: 'POST' as const, url: '/v1/brands', body: { id: 'brand_raced', name: `Raced ${i}` } })),
      201,
    );
    assert.equal(await countWhere('brands', 'id', 'brand_raced'), 1);
    const address = 'help@raced.example.com';
    await race(
      Array.from({ length: 5 }, (_, i) => ({ method: 'POST' as const, url: '/v1/brands', body: { name: `Address ${i}`, email_addresses: [address] } })),
      201,
    );
    assert.equal(await countWhere('brand_email_addresses', 'address', address), 1);
    assert.equal(
      (await countWhere('brands', 'name', 'Address 0')) +
        (await countWhere('brands', 'name', 'Address 1')) +
        (await countWhere('brands', 'name', 'Address 2')) +
        (await countWhere('brands', 'name', 'Address 3')) +
        (await countWhere('brands', 'name', 'Address 4')),
      1,
    );
  });
});
