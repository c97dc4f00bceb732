import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, countRows, createBrand, createTicket } from '../helpers/factories.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read as loose JSON here
type Json = any;

describe('agents', () => {
  let t: TestApp;
  let A: string;
  let B: string;
  before(async () => {
    t = await buildTestApp();
    A = (await createBrand(t, { name: 'Agents A' })).id;
    B = (await createBrand(t, { name: 'Agents B' })).id;
  });
  after(() => t.close());

  const agentCount = async () =>
    Number(
      (
        await t.runtime.db
          .selectFrom('agents')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const createAgent = async (body: Record<string, unknown>, token?: string): Promise<Json> => {
    const res = await t.request({ method: 'POST', url: '/v1/agents', body, ...(token ? { token } : {}) });
    assert.equal(res.statusCode, 201, res.body);
    return res.json();
  };
  let seq = 0;
  const email = (name = 'agent') => `${name}${++seq}@support.example.com`;

  // First: an agent of every brand, which later tests make, gives every brand agents.
  it('assigned_to: any address while the brand has no agents; then only its active agents (422 naming the field)', async () => {
    const brand = (await createBrand(t)).id;
    const B = (await createBrand(t)).id;
    const free = await createTicket(t, brand, { assigned_to: 'anyone@example.com' });
    assert.equal(free.assigned_to, 'anyone@example.com');
    const patched = await t.request({ method: 'PATCH', url: `/v1/tickets/${free.id}`, body: { assigned_to: 'someone@example.com' } });
    assert.equal(patched.statusCode, 200, patched.body);

    const agent = await createAgent({ name: 'Rostered', email: email('rostered'), brand_ids: [brand] });
    const other = await createAgent({ name: 'Elsewhere', email: email('elsewhere'), brand_ids: [B] });
    const ticket = await createTicket(t, brand);
    const events = await countRows(t, 'events');
    const audits = await countRows(t, 'audit_entries');
    for (const address of ['someone@example.com', other.email]) {
      const problem = assertProblem(
        await t.request({ method: 'PATCH', url: `/v1/tickets/${ticket.id}`, body: { assigned_to: address } }),
        422,
        'validation_failed',
      );
      assert.equal(problem.errors[0].pointer, '/assigned_to');
    }
    const tickets = await countRows(t, 'tickets');
    assertProblem(
      await t.request({
        method: 'POST',
        url: '/v1/tickets',
        body: { brand_id: brand, subject: 'x', customer: { email: 'c@example.com' }, assigned_to: 'nobody@example.com' },
      }),
      422,
    );
    const bulk = await t.runtime.services.tickets
      .createMany({ tokenId: 'tok_x', tokenName: 'x', scopes: ['admin'], brandIds: null }, [
        { brand_id: brand, subject: 'ok', customer: { email: 'c@example.com' } },
        { brand_id: brand, subject: 'bad', customer: { email: 'c@example.com' }, assigned_to: 'nobody@example.com' },
      ])
      .then(
        () => undefined,
        (err: Json) => err,
      );
    assert.equal(bulk?.errors?.[0]?.pointer, '/1/assigned_to');
    assert.equal(await countRows(t, 'tickets'), tickets);
    assert.equal(await countRows(t, 'events'), events);
    assert.equal(await countRows(t, 'audit_entries'), audits);
    assert.equal((await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).json().assigned_to, null);

    const ok = await t.request({ method: 'PATCH', url: `/v1/tickets/${ticket.id}`, body: { assigned_to: agent.email.toUpperCase() } });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().assigned_to, agent.email);
    // Unassigning is always allowed; a deactivated agent cannot be assigned again.
    assert.equal((await t.request({ method: 'PATCH', url: `/v1/tickets/${ticket.id}`, body: { assigned_to: null } })).statusCode, 200);
    await t.request({ method: 'DELETE', url: `/v1/agents/${agent.id}` });
    assertProblem(await t.request({ method: 'PATCH', url: `/v1/tickets/${ticket.id}`, body: { assigned_to: agent.email } }), 422);
    // An agent of every brand may be assigned anywhere.
    const everywhere = await createAgent({ name: 'Floater', email: email('floater'), brand_ids: null });
    assert.equal((await t.request({ method: 'PATCH', url: `/v1/tickets/${ticket.id}`, body: { assigned_to: everywhere.email } })).statusCode, 200);
  });
  it('creates, lists, retrieves, updates and deactivates an agent', async () => {
    const address = email('Dana');
    const created = await createAgent({ name: ' Dana Agent ', email: address.toUpperCase(), brand_ids: [A] });
    assert.match(created.id, /^agt_[0-9a-z]{26}$/);
    assert.deepEqual(
      { name: created.name, email: created.email, role: created.role, brand_ids: created.brand_ids, active: created.active },
      { name: 'Dana Agent', email: address.toLowerCase(), role: 'agent', brand_ids: [A], active: true },
    );
    const got = await t.request({ method: 'GET', url: `/v1/agents/${created.id}` });
    assert.deepEqual(got.json(), created);

    const listed = (await t.request({ method: 'GET', url: `/v1/agents?brand_id=${A}` })).json();
    assert.ok(listed.data.some((a: Json) => a.id === created.id));
    const byEmail = (await t.request({ method: 'GET', url: `/v1/agents?email=${encodeURIComponent(address.toUpperCase())}` })).json();
    assert.deepEqual(
      byEmail.data.map((a: Json) => a.id),
      [created.id],
    );

    const patched = await t.request({ method: 'PATCH', url: `/v1/agents/${created.id}`, body: { role: 'admin', name: 'Dana A.', brand_ids: [A, B] } });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.deepEqual([patched.json().role, patched.json().name, patched.json().brand_ids], ['admin', 'Dana A.', [A, B]]);

    const deactivated = await t.request({ method: 'DELETE', url: `/v1/agents/${created.id}` });
    assert.equal(deactivated.statusCode, 200, deactivated.body);
    assert.equal(deactivated.json().active, false);
    const inactive = (await t.request({ method: 'GET', url: `/v1/agents?active=false&brand_id=${A}` })).json();
    assert.ok(inactive.data.some((a: Json) => a.id === created.id));
    const active = (await t.request({ method: 'GET', url: `/v1/agents?active=true&brand_id=${A}` })).json();
    assert.ok(!active.data.some((a: Json) => a.id === created.id));
    const reactivated = await t.request({ method: 'PATCH', url: `/v1/agents/${created.id}`, body: { active: true } });
    assert.equal(reactivated.json().active, true);
  });

  it('pages the list with a cursor', async () => {
    const brand = (await createBrand(t)).id;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await createAgent({ name: `Pager ${i}`, email: email('pager'), brand_ids: [brand] })).id);
    const first = (await t.request({ method: 'GET', url: `/v1/agents?brand_id=${brand}&limit=2` })).json();
    assert.equal(first.data.length, 2);
    const seen: string[] = [];
    let page = first;
    for (;;) {
      seen.push(...page.data.map((a: Json) => a.id));
      if (!page.next_cursor) break;
      page = (await t.request({ method: 'GET', url: `/v1/agents?brand_id=${brand}&limit=2&after=${page.next_cursor}` })).json();
    }
    assert.deepEqual(
      seen.filter((id) => ids.includes(id)),
      ids,
      'each once, oldest first (agents of every brand are listed too)',
    );
    assertProblem(await t.request({ method: 'GET', url: `/v1/agents?brand_id=${A}&after=${first.next_cursor}` }), 400, 'invalid_cursor');
  });

  it('refuses bad input with a problem and stores nothing', async () => {
    const taken = email('taken');
    await createAgent({ name: 'Taken', email: taken, brand_ids: [A] });
    const before = await agentCount();
    const cases: [Record<string, unknown>, number, string][] = [
      [{ email: email() }, 422, '/name'],
      [{ name: '   ', email: email() }, 422, '/name'],
      [{ name: 'X', email: 'not-an-address' }, 422, '/email'],
      [{ name: 'X', email: email(), role: 'owner' }, 422, '/role'],
      [{ name: 'X', email: email(), brand_ids: ['brand_nope'] }, 422, '/brand_ids/0'],
      [{ name: 'X', email: email(), brand_ids: [] }, 422, '/brand_ids'],
      [{ name: 'X', email: email(), active: false }, 422, ''],
      [{ name: 'X', email: taken.toUpperCase(), brand_ids: [B] }, 409, '/email'],
    ];
    for (const [body, status, pointer] of cases) {
      const problem = assertProblem(await t.request({ method: 'POST', url: '/v1/agents', body }), status);
      if (pointer)
        assert.ok(
          problem.errors?.some((e: Json) => e.pointer === pointer || e.pointer.startsWith(pointer)),
          `${JSON.stringify(body)}: ${JSON.stringify(problem)}`,
        );
    }
    assert.equal(await agentCount(), before);

    const agent = await createAgent({ name: 'Other', email: email(), brand_ids: [A] });
    for (const [body, status] of [
      [{ email: taken }, 409],
      [{ brand_ids: ['brand_nope'] }, 422],
      [{ name: '' }, 422],
      [{ active: 'no' }, 422],
      [{ id: 'agt_x' }, 422],
    ] as const) {
      assertProblem(await t.request({ method: 'PATCH', url: `/v1/agents/${agent.id}`, body }), status);
    }
    assert.deepEqual((await t.request({ method: 'GET', url: `/v1/agents/${agent.id}` })).json(), agent, 'unchanged');
    assertProblem(await t.request({ method: 'GET', url: '/v1/agents/agt_01kf0hj0800000000000000000' }), 404, 'not_found');
    assertProblem(await t.request({ method: 'PATCH', url: '/v1/agents/agt_01kf0hj0800000000000000000', body: { name: 'x' } }), 404, 'not_found');
  });

  it('scopes: tickets:read lists and reads, only admin writes', async () => {
    const reader = await t.token(['tickets:read']);
    const writer = await t.token(['tickets:write']);
    const agent = await createAgent({ name: 'Scoped', email: email(), brand_ids: [A] });
    assert.equal((await t.request({ method: 'GET', url: '/v1/agents', token: reader })).statusCode, 200);
    assert.equal((await t.request({ method: 'GET', url: `/v1/agents/${agent.id}`, token: reader })).statusCode, 200);
    const before = await agentCount();
    assertProblem(await t.request({ method: 'POST', url: '/v1/agents', token: writer, body: { name: 'N', email: email(), brand_ids: [A] } }), 403, 'forbidden');
    assertProblem(await t.request({ method: 'PATCH', url: `/v1/agents/${agent.id}`, token: writer, body: { name: 'N' } }), 403, 'forbidden');
    assertProblem(await t.request({ method: 'DELETE', url: `/v1/agents/${agent.id}`, token: reader }), 403, 'forbidden');
    assertProblem(await t.request({ method: 'GET', url: '/v1/agents', token: await t.token(['webhooks:manage']) }), 403, 'forbidden');
    assertProblem(await t.request({ method: 'GET', url: '/v1/agents', token: null }), 401, 'unauthorized');
    assert.equal(await agentCount(), before);
    assert.equal((await t.request({ method: 'GET', url: `/v1/agents/${agent.id}` })).json().name, 'Scoped');
  });

  it('brand-restricted tokens see and change only their brands’ agents', async () => {
    const adminA = await t.token(['admin'], [A]);
    const readerB = await t.token(['tickets:read'], [B]);
    const own = await createAgent({ name: 'Own', email: email() }, adminA);
    assert.deepEqual(own.brand_ids, [A], 'left out: the token’s brands');
    const shared = await createAgent({ name: 'Shared', email: email(), brand_ids: [A, B] });
    const everywhere = await createAgent({ name: 'Everywhere', email: email(), brand_ids: null });
    const onlyB = await createAgent({ name: 'Only B', email: email(), brand_ids: [B] });

    const listed = (await t.request({ method: 'GET', url: '/v1/agents?limit=100', token: adminA })).json().data as Json[];
    const byId = new Map(listed.map((a) => [a.id, a]));
    assert.ok(byId.has(own.id) && byId.has(everywhere.id));
    assert.deepEqual(byId.get(shared.id).brand_ids, [A], 'only the brands the token shares');
    assert.equal(byId.get(everywhere.id).brand_ids, null);
    assert.ok(!byId.has(onlyB.id));
    assert.equal((await t.request({ method: 'GET', url: `/v1/agents?brand_id=${B}`, token: adminA })).json().data.length, 0);
    assertProblem(await t.request({ method: 'GET', url: `/v1/agents/${onlyB.id}`, token: adminA }), 404, 'not_found');
    assertProblem(await t.request({ method: 'GET', url: `/v1/agents/${own.id}`, token: readerB }), 404, 'not_found');

    const before = await agentCount();
    assertProblem(await t.request({ method: 'POST', url: '/v1/agents', token: adminA, body: { name: 'N', email: email(), brand_ids: [B] } }), 422);
    assertProblem(await t.request({ method: 'POST', url: '/v1/agents', token: adminA, body: { name: 'N', email: email(), brand_ids: null } }), 422);
    assert.equal(await agentCount(), before);
    assertProblem(await t.request({ method: 'PATCH', url: `/v1/agents/${shared.id}`, token: adminA, body: { name: 'Mine now' } }), 403, 'forbidden');
    assertProblem(await t.request({ method: 'DELETE', url: `/v1/agents/${everywhere.id}`, token: adminA }), 403, 'forbidden');
    assertProblem(await t.request({ method: 'PATCH', url: `/v1/agents/${onlyB.id}`, token: adminA, body: { name: 'x' } }), 404, 'not_found');
    assertProblem(await t.request({ method: 'PATCH', url: `/v1/agents/${own.id}`, token: adminA, body: { brand_ids: [A, B] } }), 422);
    assert.equal((await t.request({ method: 'GET', url: `/v1/agents/${shared.id}` })).json().name, 'Shared');
    assert.deepEqual((await t.request({ method: 'GET', url: `/v1/agents/${own.id}` })).json().brand_ids, [A]);
    const renamed = await t.request({ method: 'PATCH', url: `/v1/agents/${own.id}`, token: adminA, body: { name: 'Own agent' } });
    assert.equal(renamed.statusCode, 200, renamed.body);
  });

  it('a token may belong to an agent: shown by /v1/tokens/me, and its messages are attributed to the agent', async () => {
    const agent = await createAgent({ name: 'Ari Agent', email: email('ari'), brand_ids: [A] });
    const res = await t.request({ method: 'POST', url: '/v1/tokens', body: { name: 'ari', scopes: ['tickets:write'], agent_id: agent.id } });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().agent_id, agent.id);
    const token = res.json().token;
    const me = (await t.request({ method: 'GET', url: '/v1/tokens/me', token })).json();
    assert.equal(me.agent_id, agent.id);
    assert.equal((await t.request({ method: 'GET', url: '/v1/tokens/me' })).json().agent_id, null);

    const ticket = await createTicket(t, A);
    const reply = await t.request({ method: 'POST', url: `/v1/tickets/${ticket.id}/messages`, token, body: { author_type: 'agent', body: 'On it.' } });
    assert.equal(reply.statusCode, 201, reply.body);
    assert.deepEqual(reply.json().author, { email: agent.email, name: 'Ari Agent' });
    // The body's author wins: an integration may post on someone else's behalf.
    const named = await t.request({
      method: 'POST',
      url: `/v1/tickets/${ticket.id}/messages`,
      token,
      body: { author_type: 'agent', body: 'Signed', author: { email: 'lead@support.example.com', name: 'Lead' } },
    });
    assert.deepEqual(named.json().author, { email: 'lead@support.example.com', name: 'Lead' });
    const nameOnly = await t.request({
      method: 'POST',
      url: `/v1/tickets/${ticket.id}/messages`,
      token,
      body: { author_type: 'agent', body: 'x', author: { name: 'Ari' } },
    });
    assert.deepEqual(nameOnly.json().author, { email: agent.email, name: 'Ari' });
    // Customer messages are never attributed to the agent.
    const customer = await t.request({ method: 'POST', url: `/v1/tickets/${ticket.id}/messages`, token, body: { author_type: 'customer', body: 'Thanks' } });
    assert.equal(customer.json().author.email, 'customer@example.com');
    const detail = (await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).json();
    assert.ok(detail.participants.some((p: Json) => p.email === agent.email && p.role === 'agent' && p.name === 'Ari Agent'));

    // A deactivated agent's tokens stop working; reactivated, they work again.
    await t.request({ method: 'DELETE', url: `/v1/agents/${agent.id}` });
    assertProblem(await t.request({ method: 'GET', url: '/v1/tokens/me', token }), 401, 'unauthorized');
    await t.request({ method: 'PATCH', url: `/v1/agents/${agent.id}`, body: { active: true } });
    assert.equal((await t.request({ method: 'GET', url: '/v1/tokens/me', token })).statusCode, 200);
  });

  it('audit entries written with an agent’s token name the agent as well as the token', async () => {
    const agent = await createAgent({ name: 'Audra Audit', email: email('audra'), brand_ids: [A] });
    const created = await t.request({ method: 'POST', url: '/v1/tokens', body: { name: 'audra laptop', scopes: ['tickets:write'], agent_id: agent.id } });
    assert.equal(created.statusCode, 201, created.body);
    const token = created.json().token;
    const tokenId = (await t.request({ method: 'GET', url: '/v1/tokens/me', token })).json().id;
    const ticket = await createTicket(t, A);
    assert.equal((await t.request({ method: 'PATCH', url: `/v1/tickets/${ticket.id}`, token, body: { priority: 'high' } })).statusCode, 200);
    assert.equal(
      (await t.request({ method: 'POST', url: `/v1/tickets/${ticket.id}/messages`, token, body: { author_type: 'agent', body: 'Looking.' } })).statusCode,
      201,
    );
    const trail = (await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}/audit` })).json().data;
    const [byTicketCreate, ...byAgent] = trail;
    assert.equal(byTicketCreate.actor.agent, null, 'the admin token of the test belongs to no agent');
    assert.equal(byAgent.length, 2);
    for (const entry of byAgent) {
      assert.deepEqual(entry.actor, { type: 'token', id: tokenId, name: 'audra laptop', agent: { id: agent.id, name: 'Audra Audit' } });
    }
    // The ticket's own representation shows the same trail.
    const detail = (await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).json();
    assert.deepEqual(detail.audit_trail.at(-1).actor.agent, { id: agent.id, name: 'Audra Audit' });
  });

  it('refuses a token for an agent that is unknown, deactivated or outside the grantor’s brands, storing nothing', async () => {
    const inactive = await createAgent({ name: 'Gone', email: email(), brand_ids: [A] });
    await t.request({ method: 'DELETE', url: `/v1/agents/${inactive.id}` });
    const onlyB = await createAgent({ name: 'B only', email: email(), brand_ids: [B] });
    const adminA = await t.token(['admin'], [A]);
    const before = await countRows(t, 'tokens');
    for (const [agentId, token] of [
      ['agt_01kf0hj0800000000000000000', undefined],
      [inactive.id, undefined],
      [onlyB.id, adminA],
      ['', undefined],
    ] as const) {
      const problem = assertProblem(
        await t.request({ method: 'POST', url: '/v1/tokens', body: { name: 'x', scopes: ['tickets:read'], agent_id: agentId }, ...(token ? { token } : {}) }),
        422,
        'validation_failed',
      );
      assert.equal(problem.errors[0].pointer, '/agent_id');
    }
    assert.equal(await countRows(t, 'tokens'), before);
  });
});
