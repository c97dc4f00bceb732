import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createBrand, createTicket } from '../helpers/factories.js';
import { ODD_STRINGS, deeplyNested, schemaArbitraries, toJsonText } from '../helpers/schema-arbitrary.js';

/*
 * Schema-driven fuzzing: for every operation of the OpenAPI document, requests built from its own
 * schemas (valid bodies, query strings and path values, and the same broken one way at a time),
 * sent to the real app. Whatever comes in: no 5xx, every error a problem+json, nothing stored by a
 * refused request, and the app answers at the end. Every response also goes through the contract
 * check of test/helpers/app.ts. Seeded and bounded: NEXUS_FUZZ_SEED replays a run,
 * NEXUS_FUZZ_RUNS and NEXUS_FUZZ_MS (per operation) widen it.
 */

const SEED = Number(process.env.NEXUS_FUZZ_SEED ?? 20260115);
const RUNS = Number(process.env.NEXUS_FUZZ_RUNS ?? 60);
/** Per operation, and for all of them: on a slow machine fewer runs, never a longer test. */
const TIME_LIMIT_MS = Number(process.env.NEXUS_FUZZ_MS ?? 1000);
const TOTAL_BUDGET_MS = Number(process.env.NEXUS_FUZZ_TOTAL_MS ?? 20_000);

// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is walked as loose JSON
type Json = Record<string, any>;

interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
}

const COUNTED = ['tickets', 'messages', 'events', 'audit_entries', 'brands', 'queues', 'tokens', 'webhook_endpoints', 'attachments'] as const;

/** The row counts a refused request must leave as they were, in one query. */
async function rowCounts(t: TestApp): Promise<Record<string, number>> {
  const columns = COUNTED.map((table) => sql`(select count(*) from ${sql.table(table)}) as ${sql.ref(table)}`);
  const { rows } = await sql<Record<string, number | string>>`select ${sql.join(columns)}`.execute(t.runtime.db);
  return Object.fromEntries(Object.entries(rows[0]!).map(([k, v]) => [k, Number(v)]));
}

const pathOf = (url: string) => new URL(url).pathname;
const lastSegment = (url: string) => pathOf(url).split('/').pop()!;

/** One of each resource, so that valid path values name something that exists. */
async function makeFixtures(t: TestApp) {
  const brand = await createBrand(t, { id: 'brand_fuzz', name: 'Fuzz' });
  const other = await createBrand(t, { name: 'Other' });
  const ticket = await createTicket(t, brand.id, { tags: ['billing'] });
  await t.request({ method: 'POST', url: `/v1/tickets/${ticket.id}/messages`, body: { author_type: 'agent', body: 'Hello' } });
  const queue = (await t.request({ method: 'POST', url: '/v1/queues', body: { brand_id: brand.id, name: 'VIP', match: { tags: ['vip'] } } })).json();
  const hook = (await t.request({ method: 'POST', url: '/v1/webhooks', body: { url: 'http://127.0.0.1:9/hook', events: ['*'] } })).json();
  const delivery = (await t.request({ method: 'POST', url: `/v1/webhooks/${hook.id}/test` })).json();
  const pending = (
    await t.request({ method: 'POST', url: '/v1/attachments', body: { file_name: 'a.txt', content_type: 'text/plain', brand_id: brand.id } })
  ).json();
  const ready = (
    await t.request({ method: 'POST', url: '/v1/attachments', body: { file_name: 'b.txt', content_type: 'text/plain', brand_id: brand.id } })
  ).json();
  const put = await t.app.inject({ method: 'PUT', url: pathOf(ready.upload_url), headers: { 'content-type': 'text/plain' }, payload: 'hello' });
  assert.equal(put.statusCode, 200, put.body);
  const readyView = (await t.request({ method: 'GET', url: `/v1/attachments/${ready.id}` })).json();
  const spare = await t.token(['tickets:read'], [other.id]);
  const spareId = (await t.request({ method: 'GET', url: '/v1/tokens/me', token: spare })).json().id;
  for (const id of [queue.id, hook.id, delivery.id, pending.id, readyView.download_url]) assert.ok(id, 'fixture created');

  const pools: Record<string, string[]> = {
    brand_id: [brand.id, other.id],
    ticket_id: [ticket.id],
    queue_id: [queue.id, brand.default_queue_id],
    webhook_id: [hook.id],
    delivery_id: [delivery.id],
    attachment_id: [pending.id, ready.id],
    token_id: [spareId],
    'uploadAttachment:token': [lastSegment(pending.upload_url)],
    'downloadAttachment:token': [lastSegment(readyView.download_url)],
  };
  return { pools, allIds: Object.values(pools).flat() };
}

const t = await buildTestApp();
const doc: Json = (await t.request({ method: 'GET', url: '/v1/openapi.json', token: null })).json();
const fixtures = await makeFixtures(t);
const brandIds = fixtures.pools.brand_id!;
const arbs = schemaArbitraries(doc, {
  fields: {
    brand_id: fc.constantFrom(...brandIds),
    brand_ids: fc.subarray(brandIds, { minLength: 1 }),
    attachments: fc.constant([]),
    // A cursor only comes from a previous page: a made-up one is a broken value, not a valid one.
    after: fc.constant(undefined),
  },
});

/** Percent-encodes as UTF-8; a lone surrogate (which UTF-8 cannot carry) goes as U+FFFD. */
const encode = (v: string): string => encodeURIComponent(v.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));

const asQueryValue = (v: unknown): string => (typeof v === 'string' ? v : toJsonText(v));

/** Path values that name the fixture of that name (a random one where there is none). */
function validPathValue(operationId: string, name: string): fc.Arbitrary<string> {
  const pool = fixtures.pools[`${operationId}:${name}`] ?? fixtures.pools[name] ?? [];
  return pool.length ? fc.constantFrom(...pool) : fc.string({ minLength: 1, maxLength: 30 }).map(encode);
}

/** Anything else a client could put in a path segment, encoded or not. */
const wrongPathValue = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .oneof(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.string({ minLength: 1, maxLength: 20, unit: 'binary' }),
        fc.constantFrom(...ODD_STRINGS.filter((s) => s.trim() !== '')),
        fc.constantFrom(...fixtures.allIds),
        fc.constantFrom('x'.repeat(100), 'x'.repeat(101), 'y'.repeat(1000)),
        fc.integer().map(String),
      )
      .map(encode),
  },
  // Sent as they are: percent-encoding that does not decode.
  { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '%E0%A4%A', '%C0%AF', 'a%ffb', '%00') },
);

type Pair = [string, string];

function queryArbitraries(params: Json[]): { valid: fc.Arbitrary<Pair[]>; invalid: fc.Arbitrary<Pair[]> } {
  const query = params.filter((p) => p.in === 'query');
  const optional = (p: Json, value: fc.Arbitrary<unknown>) =>
    fc.option(
      value.map((v): Pair | null => (v === undefined ? null : [p.name, asQueryValue(v)])),
      { freq: 2 },
    );
  // Query parameters are a flat object: the same field hints apply.
  const validOf = (p: Json) => arbs.valid({ type: 'object', required: [p.name], properties: { [p.name]: p.schema } }).map((o) => (o as Json)[p.name]);
  const valid = fc.tuple(...query.map((p) => optional(p, validOf(p)))).map((pairs) => pairs.filter((x): x is Pair => x !== null));
  const broken = query.length
    ? fc
        .nat(query.length - 1)
        .chain((i) =>
          fc
            .tuple(
              ...query.map((p, j) =>
                j === i
                  ? fc.oneof(arbs.invalid(p.schema), fc.constantFrom(...ODD_STRINGS)).map((v): Pair | null => [p.name, asQueryValue(v)])
                  : optional(p, validOf(p)),
              ),
            )
            .map((pairs) => pairs.filter((x): x is Pair => x !== null)),
        )
    : undefined;
  const extras = fc.constantFrom<Pair[]>(
    [['unknown', '1']],
    [
      ['limit', '1'],
      ['limit', '2'],
    ],
    [['after', '']],
    [['%zz', '%']],
  );
  return { valid, invalid: broken ? fc.oneof(broken, extras) : extras };
}

interface BodyChoice {
  payload?: string | Buffer;
  contentType?: string;
}

const json = (body: unknown): BodyChoice => ({ payload: toJsonText(body), contentType: 'application/json' });

/** Bodies broken before any schema applies: syntax, media type, size, shape, depth. */
const rawJsonBodies = fc.constantFrom<BodyChoice>(
  { payload: '{"brand_id": ', contentType: 'application/json' },
  { payload: '', contentType: 'application/json' },
  { payload: 'hello', contentType: 'text/plain' },
  { payload: 'a=1', contentType: 'application/x-www-form-urlencoded' },
  { payload: '{}', contentType: 'application/json; charset=utf-16' },
  { payload: '{}', contentType: 'application/json; charset=latin1' },
  { payload: '{}', contentType: 'application/json;;' },
  { payload: '{}', contentType: 'multipart/form-data; boundary=x' },
  { payload: `{"pad":"${'p'.repeat(1024 * 1024)}"}`, contentType: 'application/json' },
  { payload: 'null', contentType: 'application/json' },
  { payload: '[]', contentType: 'application/json' },
  { payload: '"text"', contentType: 'application/json' },
  { payload: '1e999', contentType: 'application/json' },
  { payload: '\ufeff{}', contentType: 'application/json' },
  { payload: '{"__proto__": {"admin": true}}', contentType: 'application/json' },
  { payload: '{"constructor": {"prototype": {"x": 1}}}', contentType: 'application/json' },
  { payload: deeplyNested(10_000).text, contentType: 'application/json' },
  { payload: deeplyNested(10_000, true).text, contentType: 'application/json' },
  { payload: '{}' },
);

/** The signed upload takes bytes, not JSON. */
const uploadBody = (contentTypes: string[]) =>
  fc.record({ payload: fc.uint8Array({ maxLength: 2048 }).map((a) => Buffer.from(a)), contentType: fc.constantFrom(...contentTypes) });

/** A body where none is expected: it must be ignored or refused cleanly. */
const strayBodies = fc.constantFrom<BodyChoice>(
  { payload: '{"x":1}', contentType: 'application/json' },
  { payload: '{"x":', contentType: 'application/json' },
  { payload: 'x', contentType: 'text/plain' },
);

interface Parts {
  path: string[];
  query: Pair[];
  body: BodyChoice | null;
  key: string | null;
}

/**
 * Requests for one operation: all valid, or valid but for one thing (a path value, a query
 * parameter, the body, the Idempotency-Key), so that each refusal is about that one thing.
 */
function requestFor(path: string, method: string, op: Json): fc.Arbitrary<FuzzRequest> {
  const params: Json[] = op.parameters ?? [];
  const pathParams = params.filter((p) => p.in === 'path');
  const validPath = fc.tuple(...pathParams.map((p) => validPathValue(op.operationId, p.name)));
  const query = queryArbitraries(params);
  const schema = op.requestBody?.content?.['application/json']?.schema;
  const validBody: fc.Arbitrary<BodyChoice | null> = schema ? arbs.valid(schema).map(json) : op.requestBody ? uploadBody(['text/plain']) : fc.constant(null);
  const invalidBody: fc.Arbitrary<BodyChoice | null> = schema
    ? fc.oneof({ weight: 4, arbitrary: arbs.invalid(schema).map(json) }, { weight: 1, arbitrary: rawJsonBodies })
    : op.requestBody
      ? uploadBody(['application/octet-stream', 'image/png', 'text/plain; charset=utf-8', 'bad type', 'application/json', ''])
      : strayBodies;
  const idempotent = params.some((p) => p.name === 'Idempotency-Key');
  // Other header parameters (If-Match): valid or not, as long as HTTP can carry them.
  const headerParams = params.filter((p) => p.in === 'header' && p.name !== 'Idempotency-Key');
  const headerValue = (p: Json) =>
    fc
      .option(fc.oneof(arbs.valid(p.schema), arbs.invalid(p.schema), fc.constantFrom('*', 'W/"v1"', '"v1", "v2"', '""', '"v999999999999999999999"')), {
        freq: 2,
      })
      .map((v): Pair | null => (v === null ? null : [p.name, asQueryValue(v).replace(/[^\x20-\x7e]/g, '')]));
  const extraHeaders = fc.tuple(...headerParams.map(headerValue)).map((pairs) => pairs.filter((x): x is Pair => x !== null));
  // A few keys, so that replays and reuse with another body happen.
  const validKey = idempotent ? fc.option(fc.constantFrom('k1', 'k2', 'k3'), { freq: 2 }) : fc.constant(null);

  const parts = (weight: number, arbitrary: fc.Arbitrary<Parts>) => ({ weight, arbitrary });
  const combos = [parts(2, fc.record({ path: validPath, query: query.valid, body: validBody, key: validKey }))];
  if (pathParams.length) {
    const brokenPath = fc
      .nat(pathParams.length - 1)
      .chain((i) => fc.tuple(...pathParams.map((p, j) => (j === i ? wrongPathValue : validPathValue(op.operationId, p.name)))));
    combos.push(parts(1, fc.record({ path: brokenPath, query: query.valid, body: validBody, key: validKey })));
  }
  combos.push(parts(1, fc.record({ path: validPath, query: query.invalid, body: validBody, key: validKey })));
  // Bodies carry the most structure, so they get the most broken runs.
  combos.push(parts(schema ? 3 : 1, fc.record({ path: validPath, query: query.valid, body: invalidBody, key: validKey })));
  if (idempotent) {
    const badKey = fc.constantFrom('', 'ä', 'a b', 'x'.repeat(256), '\u0000');
    combos.push(parts(1, fc.record({ path: validPath, query: query.valid, body: validBody, key: badKey })));
  }

  return fc.tuple(fc.oneof(...combos), extraHeaders).map(([{ path: values, query: pairs, body, key }, more]) => {
    let url = path;
    pathParams.forEach((p, i) => {
      url = url.replace(`{${p.name}}`, values[i]!);
    });
    const search = pairs.map(([k, v]) => (k === '%zz' ? `${k}=${v}` : `${encode(k)}=${encode(v)}`)).join('&');
    const headers: Record<string, string> = Object.fromEntries(more.map(([k, v]) => [k.toLowerCase(), v]));
    if (body?.contentType) headers['content-type'] = body.contentType;
    if (key !== null) headers['idempotency-key'] = key;
    return { method: method.toUpperCase(), url: search ? `${url}?${search}` : url, headers, ...(body?.payload !== undefined ? { payload: body.payload } : {}) };
  });
}

const describeRequest = (r: FuzzRequest) => {
  const payload = r.payload === undefined ? '' : ` ${String(r.payload).slice(0, 300)}${String(r.payload).length > 300 ? '…' : ''}`;
  return `${r.method} ${r.url.slice(0, 300)} ${JSON.stringify(r.headers)}${payload}`;
};

const operations = Object.entries(doc.paths as Json)
  .flatMap(([path, item]) => Object.entries(item as Json).map(([method, op]) => ({ path, method, op: op as Json })))
  // Deletions last, so that the others find their fixtures.
  .sort((a, b) => Number(a.method === 'delete') - Number(b.method === 'delete'));

describe(`schema-driven fuzzing of every operation (seed ${SEED})`, () => {
  after(() => t.close());
  let counts: Record<string, number> | undefined;
  let budgetEnds: number | undefined;

  for (const [index, { path, method, op }] of operations.entries()) {
    it(`${op.operationId}: ${method.toUpperCase()} ${path}`, async (ctx) => {
      counts ??= await rowCounts(t);
      const statuses = new Map<number, number>();
      const started = Date.now();
      budgetEnds ??= started + TOTAL_BUDGET_MS;
      const timeLimit = Math.max(100, Math.min(TIME_LIMIT_MS, (budgetEnds - started) / (operations.length - index)));
      const deadline = started + timeLimit;
      const property = fc.asyncProperty(requestFor(path, method, op), async (req) => {
        // Cooperative time bound: the remaining runs do nothing. (fast-check's own interrupt would
        // abandon a request in flight, and its writes would land during the next operation.)
        if (Date.now() > deadline) return;
        const where = `${describeRequest(req)}`;
        // The token is added here, not generated: a failure report then does not print it.
        const headers = op.security?.length === 0 ? req.headers : { ...req.headers, authorization: `Bearer ${t.adminToken}` };
        const before = counts;
        let res: LightMyRequestResponse;
        try {
          res = await t.app.inject({ method: req.method as 'GET', url: req.url, headers, ...(req.payload !== undefined ? { payload: req.payload } : {}) });
        } finally {
          // Whatever happened, the next request is judged against what is stored now.
          counts = await rowCounts(t);
        }
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        assert.ok(res.statusCode < 500, `no 5xx: ${res.statusCode} ${res.body.slice(0, 500)} for ${where}`);
        if (res.statusCode >= 400) {
          assert.match(String(res.headers['content-type']), /^application\/problem\+json/, `a problem for ${where}`);
          assert.equal(res.json().status, res.statusCode);
          const changed = Object.keys(counts)
            .filter((k) => counts![k] !== before![k])
            .map((k) => `${k} ${before![k]} -> ${counts![k]}`);
          assert.deepEqual(changed, [], `a refused request (${res.statusCode} ${res.json().code}) stored nothing: ${where}`);
        }
      });
      try {
        await fc.assert(property, { seed: SEED, numRuns: RUNS, endOnFailure: true });
      } catch (err) {
        const cause = (err as Error).cause as Error | undefined;
        throw new Error(
          `Fuzzing ${op.operationId} failed (replay with NEXUS_FUZZ_SEED=${SEED}):\n${(err as Error).message}${cause ? `\nCause: ${cause.message}` : ''}`,
        );
      }
      ctx.diagnostic(
        `${[...statuses.values()].reduce((a, b) => a + b, 0)} requests in ${Date.now() - started} ms: ${[...statuses.entries()]
          .sort(([a], [b]) => a - b)
          .map(([s, n]) => `${s}×${n}`)
          .join(' ')}`,
      );
    });
  }

  it('still answers, and still holds what it stored, after all of it', async () => {
    assert.equal((await t.request({ method: 'GET', url: '/healthz', token: null })).statusCode, 200);
    assert.equal((await t.request({ method: 'GET', url: '/readyz', token: null })).statusCode, 200);
    const list = await t.request({ method: 'GET', url: '/v1/tickets?brand_id=brand_fuzz&limit=100' });
    assert.equal(list.statusCode, 200);
    assert.ok(list.json().data.length >= 1);
    assert.equal((await t.request({ method: 'GET', url: `/v1/tickets/${fixtures.pools.ticket_id![0]}` })).statusCode, 200);
  });
});
