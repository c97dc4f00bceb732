import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, countRows, createBrand, createTicket } from '../helpers/factories.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read as loose JSON here; the assertions check their shape
type Json = any;

/** Everything a refused reply could have left behind. */
async function snapshot(t: TestApp) {
  return {
    messages: await countRows(t, 'messages'),
    events: await countRows(t, 'events'),
    audit: await countRows(t, 'audit_entries'),
    attachments: await t.runtime.db.selectFrom('attachments').selectAll().orderBy('id').execute(),
  };
}

describe('linking an attachment needs the same visibility as reading it', () => {
  let t: TestApp;
  let brandA: string;
  let ticketA: Json;
  let writerA: string;

  /** An attachment registered by the all-brands test admin without brand_id, uploaded or not. */
  async function brandless(upload: boolean): Promise<string> {
    const res = await t.request({ method: 'POST', url: '/v1/attachments', body: { file_name: 'secret.txt', content_type: 'text/plain' } });
    assert.equal(res.statusCode, 201, res.body);
    const created = res.json();
    if (upload) {
      const put = await t.app.inject({
        method: 'PUT',
        url: new URL(created.upload_url).pathname,
        headers: { 'content-type': 'text/plain' },
        payload: 'all-brands data',
      });
      assert.equal(put.statusCode, 200, put.body);
    }
    return created.id;
  }

  const reply = (ticketId: string, attachments: string[], token?: string) =>
    t.request({
      method: 'POST',
      url: `/v1/tickets/${ticketId}/messages`,
      body: { author_type: 'agent', body: 'see attached', attachments },
      ...(token ? { token } : {}),
    });

  before(async () => {
    t = await buildTestApp();
    brandA = (await createBrand(t)).id;
    ticketA = await createTicket(t, brandA);
    writerA = await t.token(['tickets:write'], [brandA]);
  });
  after(() => t.close());

  it('a brand-restricted writer cannot claim a brand-less upload it cannot read: 422 "does not exist", nothing linked', async () => {
    const id = await brandless(true);
    assertProblem(await t.request({ method: 'GET', url: `/v1/attachments/${id}`, token: writerA }), 404, 'not_found');
    const before = await snapshot(t);
    const problem = assertProblem(await reply(ticketA.id, [id], writerA), 422, 'validation_failed');
    assert.deepEqual(problem.errors, [{ pointer: '/attachments/0', message: `attachment ${id} does not exist` }]);
    assert.deepEqual(await snapshot(t), before, 'no message, event, audit entry or link');
    assertProblem(await t.request({ method: 'GET', url: `/v1/attachments/${id}`, token: writerA }), 404, 'not_found');
  });

  it('a pending brand-less id reads like a missing one, not "not uploaded yet"', async () => {
    const pending = await brandless(false);
    const before = await snapshot(t);
    const res = assertProblem(await reply(ticketA.id, [pending, 'att_missing'], writerA), 422, 'validation_failed');
    assert.deepEqual(res.errors, [
      { pointer: '/attachments/0', message: `attachment ${pending} does not exist` },
      { pointer: '/attachments/1', message: 'attachment att_missing does not exist' },
    ]);
    assert.deepEqual(await snapshot(t), before);
  });

  it('an all-brands token still links it; it then belongs to the ticket’s brand and its writers read it', async () => {
    const id = await brandless(true);
    const res = await reply(ticketA.id, [id]);
    assert.equal(res.statusCode, 201, res.body);
    const got = await t.request({ method: 'GET', url: `/v1/attachments/${id}`, token: writerA });
    assert.equal(got.statusCode, 200, got.body);
    assert.equal(got.json().brand_id, brandA);
  });
});
