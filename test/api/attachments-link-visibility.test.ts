import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, countRows, createBrand, createTicket } from '../helpers/factories.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read as loose JSON here; the assertions check their shape
type Json = any;

const pathOf = (url: string): string => new URL(url).pathname;

/**
 * Linking an attachment to a reply needs exactly what reading it needs. A brand-less attachment
 * (made by an all-brands token without brand_id) is invisible to a brand-restricted token, so that
 * token can neither link it nor learn anything about it, whatever its status.
 */
describe('linking needs the same visibility as reading', () => {
  let t: TestApp;
  let brandA: string;
  let brandB: string;
  let writerA: string;
  let ticketA: Json;

  async function requestUpload(body: Record<string, unknown>, token?: string): Promise<Json> {
    const res = await t.request({
      method: 'POST',
      url: '/v1/attachments',
      body: { file_name: 'x.bin', content_type: 'application/octet-stream', ...body },
      ...(token ? { token } : {}),
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json();
  }

  async function ready(body: Record<string, unknown> = {}, token?: string): Promise<Json> {
    const created = await requestUpload(body, token);
    const res = await t.app.inject({
      method: 'PUT',
      url: pathOf(created.upload_url),
      headers: { 'content-type': 'application/octet-stream' },
      payload: randomBytes(64),
    });
    assert.equal(res.statusCode, 200, res.body);
    return created;
  }

  const reply = (ticketId: string, attachments: string[], token?: string) =>
    t.request({
      method: 'POST',
      url: `/v1/tickets/${ticketId}/messages`,
      body: { author_type: 'agent', body: 'See attached.', attachments },
      ...(token ? { token } : {}),
    });

  const row = (id: string) => t.runtime.db.selectFrom('attachments').selectAll().where('id', '=', id).executeTakeFirst();

  async function snapshot() {
    const linked = await t.runtime.db
      .selectFrom('attachments')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('message_id', 'is not', null)
      .executeTakeFirstOrThrow();
    return {
      messages: await countRows(t, 'messages'),
      events: await countRows(t, 'events'),
      audit: await countRows(t, 'audit_entries'),
      linked: Number(linked.n),
    };
  }

  before(async () => {
    t = await buildTestApp();
    brandA = (await createBrand(t)).id;
    brandB = (await createBrand(t)).id;
    writerA = await t.token(['tickets:write'], [brandA]);
    ticketA = await createTicket(t, brandA);
  });
  after(() => t.close());

  it('refuses a brand-less attachment to a brand-restricted writer, stores nothing, and it stays unlinked and undownloadable', async () => {
    const brandless = await ready(); // the admin token of the test app sees every brand
    assert.equal((await row(brandless.id))!.brand_id, null);
    assertProblem(await t.request({ method: 'GET', url: `/v1/attachments/${brandless.id}`, token: writerA }), 404, 'not_found');

    const before = await snapshot();
    const problem = assertProblem(await reply(ticketA.id, [brandless.id], writerA), 422, 'validation_failed');
    assert.deepEqual(problem.errors, [{ pointer: '/attachments/0', message: `attachment ${brandless.id} does not exist` }]);
    assert.deepEqual(await snapshot(), before);
    const after = (await row(brandless.id))!;
    assert.equal(after.message_id, null);
    assert.equal(after.ticket_id, null);
    assert.equal(after.brand_id, null);
    // The reply was not stored, so no message of the ticket offers a download URL for it.
    const ticket = (await t.request({ method: 'GET', url: `/v1/tickets/${ticketA.id}`, token: writerA })).json();
    assert.ok(ticket.messages.every((m: Json) => (m.attachments ?? []).every((a: Json) => a.id !== brandless.id)));
    assertProblem(await t.request({ method: 'GET', url: `/v1/attachments/${brandless.id}`, token: writerA }), 404, 'not_found');
  });

  it('answers pending, uploading, ready, other-brand and missing ids that the token cannot read with the same words', async () => {
    const pendingBrandless = await requestUpload({});
    const uploadingBrandless = await requestUpload({});
    await t.runtime.db.updateTable('attachments').set({ status: 'uploading' }).where('id', '=', uploadingBrandless.id).execute();
    const readyBrandless = await ready();
    const otherBrand = await ready({ brand_id: brandB });
    const missing = 'att_00000000000000000000000000';
    const ids = [pendingBrandless.id, uploadingBrandless.id, readyBrandless.id, otherBrand.id, missing];

    const before = await snapshot();
    const problem = assertProblem(await reply(ticketA.id, ids, writerA), 422, 'validation_failed');
    assert.deepEqual(
      problem.errors,
      ids.map((id, i) => ({ pointer: `/attachments/${i}`, message: `attachment ${id} does not exist` })),
    );
    assert.deepEqual(await snapshot(), before);
    for (const id of ids.slice(0, 4)) assert.equal((await row(id))!.message_id, null);

    for (const id of ids) {
      const got = assertProblem(await t.request({ method: 'GET', url: `/v1/attachments/${id}`, token: writerA }), 404, 'not_found');
      assert.equal(got.detail, `Attachment ${id} was not found`);
      assert.equal(got.title, 'Resource not found');
    }
  });

  it('still links what the token can read, and tells its own pending attachment apart', async () => {
    const own = await ready({}, writerA);
    assert.equal((await row(own.id))!.brand_id, brandA);
    const ownPending = await requestUpload({}, writerA);
    const before = await snapshot();
    const problem = assertProblem(await reply(ticketA.id, [ownPending.id], writerA), 422, 'validation_failed');
    assert.deepEqual(problem.errors, [{ pointer: '/attachments/0', message: `attachment ${ownPending.id} is not uploaded yet (status pending)` }]);
    assert.deepEqual(await snapshot(), before);

    assert.equal((await reply(ticketA.id, [own.id], writerA)).statusCode, 201);
    // An all-brands token may still link a brand-less attachment: it takes the ticket's brand.
    const brandless = await ready();
    assert.equal((await reply(ticketA.id, [brandless.id])).statusCode, 201);
    assert.equal((await row(brandless.id))!.brand_id, brandA);
  });

  it("refuses another brand's attachment to a token of both brands when the ticket is of the other", async () => {
    const both = await t.token(['tickets:write'], [brandA, brandB]);
    const ofB = await ready({ brand_id: brandB }, both);
    const before = await snapshot();
    const problem = assertProblem(await reply(ticketA.id, [ofB.id], both), 422, 'validation_failed');
    assert.deepEqual(problem.errors, [{ pointer: '/attachments/0', message: `attachment ${ofB.id} does not exist` }]);
    assert.deepEqual(await snapshot(), before);
    assert.equal((await row(ofB.id))!.message_id, null);
  });
});
