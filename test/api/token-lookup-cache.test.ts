import assert from 'node:assert/strict';
import { type TestContext, describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { build, type TestApp, testPostgresUrl } from '../helpers/app.js';
import { runNexus } from '../helpers/cli-process.js';
import { assertProblem, createBrand } from '../helpers/factories.js';

/**
 * A token's lookup is kept between requests while nothing is committed (src/auth/token-service.ts,
 * `authenticatedTokens`): every change that must stop or change a token shows on the very next
 * request, whichever process made it.
 */
describe('the token lookup kept between commits', () => {
  const listTickets = (t: TestApp, token: string) => t.request({ method: 'GET', url: '/v1/tickets', token });
  const useTwice = async (t: TestApp, token: string) => {
    for (let i = 0; i < 2; i++) assert.equal((await listTickets(t, token)).statusCode, 200);
  };
  /** An app with a token of tickets:read whose lookup has been kept (used twice). */
  const appWithKeptToken = async (t: TestContext) => {
    const app = await build(t);
    const token = await app.token(['tickets:read']);
    const id = (await app.request({ method: 'GET', url: '/v1/tokens/me', token })).json().id as string;
    await useTwice(app, token);
    return { app, token, id };
  };

  it('a token revoked by another process answers 401 on the next request', async (t) => {
    const { app, token, id } = await appWithKeptToken(t);
    const revoke = await runNexus(t, app, ['tokens', 'revoke', id]).done;
    assert.equal(revoke.code, 0, revoke.stderr);
    assertProblem(await listTickets(app, token), 401, 'unauthorized');
  });

  it('a token revoked through the API answers 401 on the next request', async (t) => {
    const { app, token, id } = await appWithKeptToken(t);
    assert.equal((await app.request({ method: 'DELETE', url: `/v1/tokens/${id}` })).statusCode, 200);
    assertProblem(await listTickets(app, token), 401, 'unauthorized');
  });

  it("an agent's tokens stop with its deactivation and the messages they write carry its new name", async (t) => {
    const app = await build(t);
    const brand = (await createBrand(app)).id;
    const agent = (
      await app.request({ method: 'POST', url: '/v1/agents', body: { name: 'Ari', email: 'ari@support.example.com', brand_ids: [brand] } })
    ).json();
    const token = (
      await app.request({ method: 'POST', url: '/v1/tokens', body: { name: 'ari', scopes: ['tickets:read', 'tickets:write'], agent_id: agent.id } })
    ).json().token as string;
    const ticket = (
      await app.request({ method: 'POST', url: '/v1/tickets', token, body: { brand_id: brand, subject: 'Hi', customer: { email: 'c@example.com' } } })
    ).json();
    const reply = async () => app.request({ method: 'POST', url: `/v1/tickets/${ticket.id}/messages`, token, body: { author_type: 'agent', body: 'On it' } });
    assert.equal((await reply()).json().author.name, 'Ari');

    assert.equal((await app.request({ method: 'PATCH', url: `/v1/agents/${agent.id}`, body: { name: 'Ari Moss' } })).statusCode, 200);
    assert.equal((await reply()).json().author.name, 'Ari Moss');

    assert.equal((await app.request({ method: 'PATCH', url: `/v1/agents/${agent.id}`, body: { active: false } })).statusCode, 200);
    assertProblem(await listTickets(app, token), 401, 'unauthorized');
    assert.equal((await app.request({ method: 'PATCH', url: `/v1/agents/${agent.id}`, body: { active: true } })).statusCode, 200);
    assert.equal((await listTickets(app, token)).statusCode, 200);
  });

  it('a token that expires while kept answers 401 from its expiry on', async (t) => {
    const app = await build(t);
    const expiresAt = new Date(app.clock.now().getTime() + 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const token = (await app.request({ method: 'POST', url: '/v1/tokens', body: { name: 'short', scopes: ['tickets:read'], expires_at: expiresAt } })).json()
      .token as string;
    await useTwice(app, token);
    app.clock.advance(61_000);
    assertProblem(await listTickets(app, token), 401, 'unauthorized');
  });

  it('a change written to the file by another connection is seen on the next request (SQLite)', {
    skip: testPostgresUrl ? 'SQLite only' : false,
  }, async (t) => {
    const { app, token, id } = await appWithKeptToken(t);
    // Another process's write, as a restore tool or an operator's SQL would make it: no API, no CLI.
    const other = new SqliteDatabase(`${app.dataDir}/nexus.sqlite`);
    t.after(() => other.close());
    other.pragma('busy_timeout = 15000');
    other.prepare('update tokens set scopes = ? where id = ?').run(JSON.stringify(['webhooks:manage']), id);
    assertProblem(await listTickets(app, token), 403, 'forbidden');
  });
});
