import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { after, before, describe, it } from 'node:test';
import { registerRouteAccess } from '../../src/http/access.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, createBrand, createTicket } from '../helpers/factories.js';

/**
 * The authorization matrix, generated from the OpenAPI document: every operation it lists, for
 * every kind of caller, gets the outcome its declared scope (`x-required-scope`) and brand rule
 * (`x-brand-scope`) promise. The fixtures live in brand A; "other-brand" callers are of brand B.
 * An operation without a case below, or with an unknown rule, fails the suite.
 */

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read as loose JSON here; the assertions check their shape
type Json = any;
type Scope = 'tickets:read' | 'tickets:write' | 'webhooks:manage' | 'email:ingest' | 'admin';

interface Operation {
  key: string;
  method: string;
  path: string;
  scope: string | undefined;
  rule: string | undefined;
  /** The documented success status (the lowest 2xx). */
  success: number;
}

interface Caller {
  name: string;
  scopes: Scope[];
  /** null: every brand. */
  brands: string[] | null;
  token: string | null;
  tokenId: string | null;
}

interface Req {
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
}

interface Case {
  /** Requests against brand A's fixtures (several variants allowed); may create fresh fixtures. */
  requests(): Promise<Req[]> | Req[];
  /** For list and search operations: the brands of each item returned (null: every brand). */
  brandsOf?(body: Json): (string[] | null)[];
}

/** The test's own statement of scope implication, independent of the server's. */
function holds(scopes: Scope[], needed: Scope): boolean {
  return scopes.includes('admin') || scopes.includes(needed) || (needed === 'tickets:read' && scopes.includes('tickets:write'));
}

/** For each required scope, a set of scopes that does not imply it. */
const LACKING: Record<Scope, Scope[]> = {
  'tickets:read': ['webhooks:manage'],
  'tickets:write': ['tickets:read', 'webhooks:manage'],
  'webhooks:manage': ['tickets:write'],
  'email:ingest': ['tickets:write', 'webhooks:manage'],
  admin: ['tickets:write', 'webhooks:manage'],
};

const KNOWN_SCOPES = ['tickets:read', 'tickets:write', 'webhooks:manage', 'email:ingest', 'admin', 'any-token', 'public'];
const KNOWN_RULES = ['resource', 'body', 'filter', 'unrestricted', 'self', 'signed-url', 'none'];

/** Tables a refused request must leave exactly as they were. */
const TABLES = [
  'brands',
  'queues',
  'tokens',
  'tickets',
  'ticket_tags',
  'messages',
  'audit_entries',
  'events',
  'event_dispatch_queue',
  'webhook_endpoints',
  'webhook_deliveries',
  'webhook_attempts',
  'attachments',
  'idempotency_keys',
  'agents',
  'agent_brands',
  'customers',
  'views',
] as const;

/** A change of one character inside the signature: the URL then names the same attachment, unsigned. */
function tamper(url: string): string {
  const i = url.length - 10;
  return url.slice(0, i) + (url[i] === 'A' ? 'B' : 'A') + url.slice(i + 1);
}

describe('authorization matrix, generated from the OpenAPI document', () => {
  let t: TestApp;
  let A: string;
  let B: string;
  let operations: Operation[];
  const fx: Record<string, Json> = {};
  const callers: Caller[] = [];
  const wrongScope = new Map<string, Caller>();

  async function makeCaller(name: string, scopes: Scope[], brands: string[] | null): Promise<Caller> {
    const created = await t.runtime.services.tokens.create({ name, scopes, brand_ids: brands });
    return { name, scopes, brands, token: created.token, tokenId: created.id };
  }

  async function post(url: string, body: unknown): Promise<Json> {
    const res = await t.request({ method: 'POST', url, body });
    assert.ok(res.statusCode < 300, `${url}: ${res.statusCode} ${res.body}`);
    return res.json();
  }

  /** A ready attachment of a brand, with its download URL. */
  async function readyAttachment(brand: string): Promise<Json> {
    const created = await post('/v1/attachments', { file_name: 'note.txt', content_type: 'text/plain', brand_id: brand });
    const put = await t.app.inject({ method: 'PUT', url: new URL(created.upload_url).pathname, headers: { 'content-type': 'text/plain' }, payload: 'hello' });
    assert.equal(put.statusCode, 200, put.body);
    return created;
  }

  async function fixturesOf(brand: string): Promise<Json> {
    const ticket = await createTicket(t, brand, { tags: ['matrix'] });
    const attachment = await readyAttachment(brand);
    const message = await post(`/v1/tickets/${ticket.id}/messages`, { author_type: 'agent', body: 'reply', attachments: [attachment.id] });
    const queue = await post('/v1/queues', { brand_id: brand, name: 'VIP', match: { tags: ['vip'] } });
    const webhook = await post('/v1/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['*'], brand_ids: [brand] });
    const delivery = await post(`/v1/webhooks/${webhook.id}/test`, {});
    const token = await t.runtime.services.tokens.create({ name: `reader of ${brand}`, scopes: ['tickets:read'], brand_ids: [brand] });
    const agent = await post('/v1/agents', { name: `Agent of ${brand}`, email: `agent-${brand}@example.com`, brand_ids: [brand] });
    const customer = (await t.request({ method: 'GET', url: `/v1/customers?brand_id=${brand}` })).json().data[0];
    const view = await post('/v1/views', { name: `View of ${brand}`, brand_id: brand, filters: { tag: 'matrix' } });
    return { ticket, attachment, message, queue, webhook, delivery, token, agent, customer, view };
  }

  async function snapshot(): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    for (const table of TABLES) {
      const rows = (await t.runtime.db.selectFrom(table).selectAll().execute()) as Record<string, unknown>[];
      // Authentication stamps last_used_at; it is not something the request stored.
      out[table] = rows.map(({ last_used_at: _used, ...rest }) => JSON.stringify(rest)).sort();
    }
    return out;
  }

  const cases: Record<string, Case> = {
    'GET /healthz': { requests: () => [{ url: '/healthz' }] },
    'GET /readyz': { requests: () => [{ url: '/readyz' }] },

    'POST /v1/tokens': { requests: () => [{ url: '/v1/tokens', body: { name: 'matrix', scopes: ['tickets:read'], brand_ids: [A] } }] },
    'GET /v1/tokens': { requests: () => [{ url: '/v1/tokens' }], brandsOf: (b) => b.data.map((x: Json) => x.brand_ids) },
    'GET /v1/tokens/me': { requests: () => [{ url: '/v1/tokens/me' }] },
    'GET /v1/tokens/{token_id}': { requests: () => [{ url: `/v1/tokens/${fx.A.token.id}` }] },
    'DELETE /v1/tokens/{token_id}': {
      async requests() {
        const fresh = await t.runtime.services.tokens.create({ name: 'to revoke', scopes: ['tickets:read'], brand_ids: [A] });
        return [{ url: `/v1/tokens/${fresh.id}` }];
      },
    },

    'POST /v1/brands': { requests: () => [{ url: '/v1/brands', body: { name: 'New brand' } }] },
    'GET /v1/brands': { requests: () => [{ url: '/v1/brands' }], brandsOf: (b) => b.data.map((x: Json) => [x.id]) },
    'GET /v1/brands/{brand_id}': { requests: () => [{ url: `/v1/brands/${A}` }] },
    'PATCH /v1/brands/{brand_id}': { requests: () => [{ url: `/v1/brands/${A}`, body: { name: 'Brand A' } }] },

    'POST /v1/queues': { requests: () => [{ url: '/v1/queues', body: { brand_id: A, name: 'Urgent', match: { priority: ['urgent'] } } }] },
    'GET /v1/queues': {
      requests: () => [{ url: '/v1/queues' }, { url: `/v1/queues?brand_id=${A}` }],
      brandsOf: (b) => b.data.map((x: Json) => [x.brand_id]),
    },
    'GET /v1/queues/{queue_id}': { requests: () => [{ url: `/v1/queues/${fx.A.queue.id}` }] },
    'PATCH /v1/queues/{queue_id}': { requests: () => [{ url: `/v1/queues/${fx.A.queue.id}`, body: { name: 'VIP' } }] },
    'GET /v1/queues/{queue_id}/tickets': { requests: () => [{ url: `/v1/queues/${fx.A.ticket.queue.id}/tickets` }] },

    'POST /v1/tickets': { requests: () => [{ url: '/v1/tickets', body: { brand_id: A, subject: 'New', customer: { email: 'c@example.com' } } }] },
    'GET /v1/tickets': {
      requests: () => [{ url: '/v1/tickets' }, { url: `/v1/tickets?brand_id=${A}` }],
      brandsOf: (b) => b.data.map((x: Json) => [x.brand_id]),
    },
    'GET /v1/tickets/{ticket_id}': { requests: () => [{ url: `/v1/tickets/${fx.A.ticket.id}` }] },
    'PATCH /v1/tickets/{ticket_id}': { requests: () => [{ url: `/v1/tickets/${fx.A.ticket.id}`, body: { priority: 'high' } }] },
    'POST /v1/tickets/{ticket_id}/messages': {
      requests: () => [{ url: `/v1/tickets/${fx.A.ticket.id}/messages`, body: { author_type: 'agent', body: 'hello' } }],
    },
    'GET /v1/tickets/{ticket_id}/messages/{message_id}': { requests: () => [{ url: `/v1/tickets/${fx.A.ticket.id}/messages/${fx.A.message.id}` }] },
    'POST /v1/tickets/{ticket_id}/merge': {
      async requests() {
        const source = await createTicket(t, A);
        const into = await createTicket(t, A);
        return [{ url: `/v1/tickets/${source.id}/merge`, body: { into: into.id } }];
      },
    },
    'POST /v1/tickets/bulk': { requests: () => [{ url: '/v1/tickets/bulk', body: { ids: [fx.A.ticket.id], change: { priority: 'high' } } }] },
    'GET /v1/tickets/{ticket_id}/messages': { requests: () => [{ url: `/v1/tickets/${fx.A.ticket.id}/messages` }] },
    'GET /v1/tickets/{ticket_id}/audit': { requests: () => [{ url: `/v1/tickets/${fx.A.ticket.id}/audit` }] },
    'GET /v1/tickets/{ticket_id}/similar': {
      requests: () => [{ url: `/v1/tickets/${fx.A.ticket.id}/similar` }, { url: `/v1/tickets/${fx.A.ticket.id}/similar?limit=50` }],
      brandsOf: (b) => b.data.map((x: Json) => [x.ticket.brand_id]),
    },
    'POST /v1/tickets/search': {
      requests: () => [
        { url: '/v1/tickets/search', body: { query: 'refund', mode: 'keyword' } },
        { url: '/v1/tickets/search', body: { query: 'refund', mode: 'keyword', filters: { brand_id: A } } },
      ],
      brandsOf: (b) => b.data.map((x: Json) => [x.ticket.brand_id]),
    },

    'GET /v1/exports/tickets.jsonl': {
      requests: () => [{ url: '/v1/exports/tickets.jsonl' }, { url: `/v1/exports/tickets.jsonl?brand_id=${A}` }],
      brandsOf: (b) => (b ?? []).map((x: Json) => [x.brand_id]),
    },

    'POST /v1/agents': {
      requests: () => [
        { url: '/v1/agents', body: { name: 'Matrix agent', email: `matrix-${Math.random().toString(36).slice(2)}@example.com`, brand_ids: [A] } },
      ],
    },
    'GET /v1/agents': {
      requests: () => [{ url: '/v1/agents?limit=100' }, { url: `/v1/agents?brand_id=${A}&limit=100` }],
      brandsOf: (b) => b.data.map((x: Json) => x.brand_ids),
    },
    'GET /v1/agents/{agent_id}': { requests: () => [{ url: `/v1/agents/${fx.A.agent.id}` }] },
    'PATCH /v1/agents/{agent_id}': { requests: () => [{ url: `/v1/agents/${fx.A.agent.id}`, body: { name: 'Agent A' } }] },
    'DELETE /v1/agents/{agent_id}': {
      async requests() {
        const fresh = await post('/v1/agents', { name: 'To deactivate', email: `gone-${Math.random().toString(36).slice(2)}@example.com`, brand_ids: [A] });
        return [{ url: `/v1/agents/${fresh.id}` }];
      },
    },

    'GET /v1/customers': {
      requests: () => [{ url: '/v1/customers?limit=100' }, { url: `/v1/customers?brand_id=${A}` }],
      brandsOf: (b) => b.data.map((x: Json) => [x.brand_id]),
    },
    'GET /v1/customers/{customer_id}': { requests: () => [{ url: `/v1/customers/${fx.A.customer.id}` }] },
    'PATCH /v1/customers/{customer_id}': { requests: () => [{ url: `/v1/customers/${fx.A.customer.id}`, body: { notes: 'matrix' } }] },
    'GET /v1/customers/{customer_id}/tickets': { requests: () => [{ url: `/v1/customers/${fx.A.customer.id}/tickets` }] },
    'POST /v1/customers/{customer_id}/erase': {
      async requests() {
        const email = `erase-${Math.random().toString(36).slice(2)}@example.com`;
        await createTicket(t, A, { customer: { email, name: 'To erase' } });
        const fresh = (await t.request({ method: 'GET', url: `/v1/customers?brand_id=${A}&email=${email}` })).json().data[0];
        return [{ url: `/v1/customers/${fresh.id}/erase?dry_run=true` }, { url: `/v1/customers/${fresh.id}/erase` }];
      },
    },

    'POST /v1/views': { requests: () => [{ url: '/v1/views', body: { name: 'Matrix view', brand_id: A, filters: { status: 'open' } } }] },
    'GET /v1/views': {
      requests: () => [{ url: '/v1/views' }],
      // Built-in views belong to no brand; a brand's views name theirs.
      brandsOf: (b) => b.data.filter((x: Json) => x.brand_id !== null).map((x: Json) => [x.brand_id]),
    },
    'GET /v1/views/counts': { requests: () => [{ url: '/v1/views/counts' }] },
    'GET /v1/views/{view_id}': { requests: () => [{ url: `/v1/views/${fx.A.view.id}` }] },
    'PATCH /v1/views/{view_id}': { requests: () => [{ url: `/v1/views/${fx.A.view.id}`, body: { name: 'View A' } }] },
    'DELETE /v1/views/{view_id}': {
      async requests() {
        const fresh = await post('/v1/views', { name: 'To delete', brand_id: A });
        return [{ url: `/v1/views/${fresh.id}` }];
      },
    },
    'GET /v1/views/{view_id}/tickets': {
      requests: () => [{ url: `/v1/views/${fx.A.view.id}/tickets` }],
      brandsOf: (b) => b.data.map((x: Json) => [x.brand_id]),
    },

    'POST /v1/webhooks': { requests: () => [{ url: '/v1/webhooks', body: { url: 'http://127.0.0.1:9/new', events: ['*'], brand_ids: [A] } }] },
    'GET /v1/webhooks': { requests: () => [{ url: '/v1/webhooks' }], brandsOf: (b) => b.data.map((x: Json) => x.brand_ids) },
    'GET /v1/webhooks/{webhook_id}': { requests: () => [{ url: `/v1/webhooks/${fx.A.webhook.id}` }] },
    'PATCH /v1/webhooks/{webhook_id}': { requests: () => [{ url: `/v1/webhooks/${fx.A.webhook.id}`, body: { description: 'matrix' } }] },
    'DELETE /v1/webhooks/{webhook_id}': {
      async requests() {
        const fresh = await post('/v1/webhooks', { url: 'http://127.0.0.1:9/gone', events: ['*'], brand_ids: [A] });
        return [{ url: `/v1/webhooks/${fresh.id}` }];
      },
    },
    'POST /v1/webhooks/{webhook_id}/rotate-secret': { requests: () => [{ url: `/v1/webhooks/${fx.A.webhook.id}/rotate-secret` }] },
    'POST /v1/webhooks/{webhook_id}/test': { requests: () => [{ url: `/v1/webhooks/${fx.A.webhook.id}/test` }] },
    'GET /v1/webhooks/{webhook_id}/deliveries': { requests: () => [{ url: `/v1/webhooks/${fx.A.webhook.id}/deliveries` }] },
    'GET /v1/webhooks/{webhook_id}/deliveries/{delivery_id}': { requests: () => [{ url: `/v1/webhooks/${fx.A.webhook.id}/deliveries/${fx.A.delivery.id}` }] },
    'POST /v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry': {
      requests: () => [{ url: `/v1/webhooks/${fx.A.webhook.id}/deliveries/${fx.A.delivery.id}/retry` }],
    },
    'GET /v1/events': {
      requests: () => [{ url: '/v1/events?limit=500' }],
      brandsOf: (b) => b.data.map((x: Json) => [x.data.ticket?.brand_id ?? x.data.brand_id]),
    },

    'POST /v1/attachments': { requests: () => [{ url: '/v1/attachments', body: { file_name: 'a.txt', content_type: 'text/plain', brand_id: A } }] },
    'GET /v1/attachments/{attachment_id}': { requests: () => [{ url: `/v1/attachments/${fx.A.attachment.id}` }] },
    'PUT /v1/uploads/{token}': {
      async requests() {
        const created = await post('/v1/attachments', { file_name: 'b.txt', content_type: 'text/plain', brand_id: A });
        return [{ url: new URL(created.upload_url).pathname, body: 'bytes', headers: { 'content-type': 'text/plain' } }];
      },
    },
    // An auto-reply (documented 200: received, nothing created) to brand A's address: the mail names its brand by its recipient.
    'POST /v1/inbound/email': {
      async requests() {
        await t.runtime.services.brands.update(null, A, { email_addresses: ['matrix@brand-a.test'] });
        const raw = `From: c@example.com\r\nTo: matrix@brand-a.test\r\nSubject: Away\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <${Math.random()}@example.com>\r\n\r\nI am away.\r\n`;
        return [{ url: '/v1/inbound/email', body: raw, headers: { 'content-type': 'message/rfc822' } }];
      },
    },
    'GET /v1/downloads/{token}': {
      async requests() {
        const detail = (await t.request({ method: 'GET', url: `/v1/attachments/${fx.A.attachment.id}` })).json();
        return [{ url: new URL(detail.download_url).pathname }];
      },
    },
  };

  before(async () => {
    t = await buildTestApp();
    A = (await createBrand(t, { name: 'Brand A' })).id;
    B = (await createBrand(t, { name: 'Brand B' })).id;
    fx.A = await fixturesOf(A);
    fx.B = await fixturesOf(B);
    callers.push(
      { name: 'no token', scopes: [], brands: null, token: null, tokenId: null },
      await makeCaller('other-brand reader', ['tickets:read'], [B]),
      await makeCaller('other-brand writer', ['tickets:write', 'webhooks:manage'], [B]),
      await makeCaller('brand-restricted admin of the other brand', ['admin'], [B]),
      await makeCaller('brand-restricted admin of the brand', ['admin'], [A]),
      await makeCaller('unrestricted admin', ['admin'], null),
    );
    for (const [needed, scopes] of Object.entries(LACKING)) wrongScope.set(needed, await makeCaller(`lacks ${needed}`, scopes, null));
    wrongScope.set('any-token', await makeCaller('least token', ['tickets:read'], null));

    const doc = (await t.request({ method: 'GET', url: '/v1/openapi.json', token: null })).json();
    operations = [];
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
      for (const [method, op] of Object.entries(item)) {
        if (!['get', 'put', 'post', 'patch', 'delete'].includes(method)) continue;
        const statuses = Object.keys(op.responses ?? {})
          .map(Number)
          .filter((s) => s >= 200 && s < 300);
        operations.push({
          key: `${method.toUpperCase()} ${path}`,
          method: method.toUpperCase(),
          path,
          scope: op['x-required-scope'],
          rule: op['x-brand-scope'],
          success: Math.min(...statuses),
        });
      }
    }
  });
  after(() => t.close());

  it('every operation in the document declares a known scope and brand rule and has a case here', () => {
    assert.ok(operations.length > 30, `the document lists ${operations.length} operations`);
    const problems: string[] = [];
    for (const op of operations) {
      if (!KNOWN_SCOPES.includes(op.scope!)) problems.push(`${op.key}: x-required-scope ${op.scope} is not one the matrix knows`);
      if (!KNOWN_RULES.includes(op.rule!)) problems.push(`${op.key}: x-brand-scope ${op.rule} is not one the matrix knows`);
      if (!cases[op.key]) problems.push(`${op.key}: no case in the authorization matrix; add one`);
      if (!Number.isFinite(op.success)) problems.push(`${op.key}: documents no 2xx response`);
    }
    const documented = new Set(operations.map((o) => o.key));
    for (const key of Object.keys(cases)) if (!documented.has(key)) problems.push(`${key}: a case for an operation the document does not list`);
    assert.deepEqual(problems, []);
  });

  it('a /v1 route that does not declare its scope and brand rule cannot be registered', async () => {
    const app = Fastify();
    registerRouteAccess(app);
    const noop = async () => ({});
    assert.throws(() => app.get('/v1/undeclared', noop), /must declare config\.scope/);
    assert.throws(() => app.get('/v1/no-brands', { config: { scope: 'tickets:read' } }, noop), /must declare config\.brands/);
    assert.throws(() => app.get('/v1/odd', { config: { scope: 'admin', brands: 'signed-url' } }, noop), /does not fit/);
    assert.throws(() => app.get('/v1/odd2', { config: { scope: 'public', brands: 'resource' } }, noop), /does not fit/);
    app.get('/v1/declared', { config: { scope: 'tickets:read', brands: 'filter' } }, noop);
    app.get('/elsewhere', noop);
    await app.close();
  });

  /** What the declarations promise this caller: a problem, or success. */
  function expected(op: Operation, caller: Caller): { status: number; code: string } | 'success' {
    if (caller.token === null) return { status: 401, code: 'unauthorized' };
    if (op.scope !== 'any-token' && !holds(caller.scopes, op.scope as Scope)) return { status: 403, code: 'forbidden' };
    if (caller.brands === null || op.rule === 'self' || op.rule === 'none') return 'success';
    const ownBrand = caller.brands.includes(A);
    switch (op.rule) {
      case 'resource':
        return ownBrand ? 'success' : { status: 404, code: 'not_found' };
      case 'body':
        return ownBrand ? 'success' : { status: 422, code: 'validation_failed' };
      case 'filter':
        return 'success';
      case 'unrestricted':
        return { status: 403, code: 'forbidden' };
    }
    throw new Error(`${op.key}: no rule for x-brand-scope ${op.rule}`);
  }

  it('every token-authenticated operation × every caller gets what its declarations promise; refusals store nothing', async () => {
    const failures: string[] = [];
    let checked = 0;
    for (const op of operations.filter((o) => o.scope !== 'public')) {
      const wrong = wrongScope.get(op.scope!)!;
      for (const caller of [callers[0]!, wrong, ...callers.slice(1)]) {
        const outcome = expected(op, caller);
        for (const req of await cases[op.key]!.requests()) {
          const label = `${op.method} ${req.url} as ${caller.name}`;
          const mutating = op.method !== 'GET';
          const before = mutating && outcome !== 'success' ? await snapshot() : undefined;
          const res = await t.request({
            method: op.method,
            url: req.url,
            token: caller.token,
            body: req.body,
            ...(req.headers ? { headers: req.headers } : {}),
          });
          checked++;
          try {
            if (outcome !== 'success') {
              const problem = assertProblem(res, outcome.status, outcome.code);
              if (outcome.status === 401) assert.match(String(res.headers['www-authenticate']), /^Bearer/);
              // A mail names its brand by its recipient, so its refusal points there.
              const brandField = op.path === '/v1/inbound/email' ? /^\/to$/ : /^\/brand_ids?(\/\d+)?$/;
              if (outcome.status === 422) assert.match(problem.errors?.[0]?.pointer ?? '', brandField, 'the refusal names the brand field');
              if (before) assert.deepEqual(await snapshot(), before, 'a refused request stored or changed nothing');
              continue;
            }
            assert.equal(res.statusCode, op.success, res.body);
            // A JSON Lines export is a list of objects, one per line.
            const body = !res.body
              ? undefined
              : String(res.headers['content-type']).startsWith('application/x-ndjson')
                ? res.body
                    .split('\n')
                    .filter(Boolean)
                    .map((line) => JSON.parse(line))
                : res.json();
            if (op.rule === 'self') assert.equal(body.id, caller.tokenId, 'the calling token itself');
            const brandsOf = cases[op.key]!.brandsOf;
            if (op.rule === 'filter' && brandsOf) {
              const items = brandsOf(body);
              if (caller.brands !== null) {
                for (const brands of items) {
                  assert.ok(
                    brands?.every((b) => caller.brands!.includes(b)) ?? false,
                    `an item of brands ${JSON.stringify(brands)} is outside ${caller.brands}`,
                  );
                }
              }
              // The other side of the check: a caller that may see brand A does see its fixtures.
              if (caller.brands === null || caller.brands.includes(A)) {
                assert.ok(
                  items.some((brands) => brands === null || brands.includes(A)),
                  'brand A’s items are listed',
                );
              }
            }
          } catch (err) {
            failures.push(`${label}: ${(err as Error).message.split('\n')[0]}`);
          }
        }
      }
    }
    assert.deepEqual(failures, []);
    assert.ok(checked > 250, `${checked} requests checked`);
  });

  it('signed-URL operations: the URL alone decides, whoever calls; a tampered one is a 403 and stores nothing', async () => {
    const failures: string[] = [];
    const signed = operations.filter((o) => o.scope === 'public' && o.rule === 'signed-url');
    assert.equal(signed.length, 2, 'upload and download');
    for (const op of signed) {
      for (const caller of [...callers, ...wrongScope.values()]) {
        const [req] = await cases[op.key]!.requests();
        const label = `${op.key} as ${caller.name}`;
        try {
          const before = await snapshot();
          const forged = await t.request({
            method: op.method,
            url: tamper(req!.url),
            token: caller.token,
            body: req!.body,
            ...(req!.headers ? { headers: req!.headers } : {}),
          });
          assertProblem(forged, 403);
          assert.deepEqual(await snapshot(), before, 'a refused request stored or changed nothing');
          const res = await t.request({
            method: op.method,
            url: req!.url,
            token: caller.token,
            body: req!.body,
            ...(req!.headers ? { headers: req!.headers } : {}),
          });
          assert.equal(res.statusCode, op.success, res.body);
        } catch (err) {
          failures.push(`${label}: ${(err as Error).message.split('\n')[0]}`);
        }
      }
    }
    assert.deepEqual(failures, []);
  });

  it('public operations outside /v1 answer everyone', async () => {
    for (const op of operations.filter((o) => o.scope === 'public' && o.rule === 'none')) {
      for (const caller of callers) {
        for (const req of await cases[op.key]!.requests()) {
          assert.equal((await t.request({ method: op.method, url: req.url, token: caller.token })).statusCode, op.success, `${op.key} as ${caller.name}`);
        }
      }
    }
  });
});
