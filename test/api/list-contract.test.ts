import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, countRows, createBrand, createTicket } from '../helpers/factories.js';

interface TicketJson {
  id: string;
  subject: string;
  updated_at: string;
  created_at: string;
}

/** Every table a request could write to, counted: a refused request leaves them as they were. */
async function counts(t: TestApp): Promise<number[]> {
  return Promise.all((['tickets', 'messages', 'events', 'audit_entries', 'brands', 'queues', 'tokens'] as const).map((table) => countRows(t, table)));
}

describe('the list contract', () => {
  let t: TestApp;
  let brand: string;
  let ticket: TicketJson;
  let webhook: { id: string };
  let queue: { id: string };
  before(async () => {
    t = await buildTestApp();
    brand = (await createBrand(t)).id;
    ticket = await createTicket(t, brand, { tags: ['shipping'] });
    webhook = (await t.request({ method: 'POST', url: '/v1/webhooks', body: { url: 'http://127.0.0.1:9/hook', events: ['*'] } })).json();
    queue = (await t.request({ method: 'POST', url: '/v1/queues', body: { brand_id: brand, name: 'VIP', match: { tags: ['vip'] } } })).json();
  });
  after(() => t.close());

  it('refuses an unknown query parameter on every list and read with a 400 naming it', async () => {
    const attachment = (
      await t.request({ method: 'POST', url: '/v1/attachments', body: { file_name: 'a.txt', content_type: 'text/plain', brand_id: brand } })
    ).json();
    const message = (await t.request({ method: 'POST', url: `/v1/tickets/${ticket.id}/messages`, body: { author_type: 'agent', body: 'hi' } })).json();
    const delivery = (await t.request({ method: 'POST', url: `/v1/webhooks/${webhook.id}/test` })).json();
    const urls = [
      '/v1/tickets',
      `/v1/tickets/${ticket.id}`,
      `/v1/tickets/${ticket.id}/messages`,
      `/v1/tickets/${ticket.id}/messages/${message.id}`,
      `/v1/tickets/${ticket.id}/audit`,
      '/v1/events',
      '/v1/webhooks',
      `/v1/webhooks/${webhook.id}`,
      `/v1/webhooks/${webhook.id}/deliveries`,
      `/v1/webhooks/${webhook.id}/deliveries/${delivery.id}`,
      '/v1/tokens',
      '/v1/tokens/me',
      '/v1/brands',
      `/v1/brands/${brand}`,
      '/v1/queues',
      `/v1/queues/${queue.id}`,
      `/v1/queues/${queue.id}/tickets`,
      `/v1/attachments/${attachment.id}`,
    ];
    for (const url of urls) {
      assert.equal((await t.request({ method: 'GET', url })).statusCode, 200, url);
      const problem = assertProblem(await t.request({ method: 'GET', url: `${url}?limt=10` }), 400, 'invalid_query');
      assert.deepEqual(
        problem.errors.map((e: { pointer: string }) => e.pointer),
        ['limt'],
        url,
      );
      assert.match(problem.detail, /^limt is not a known query parameter/, url);
    }
  });

  it('names every unknown parameter and lists the known ones', async () => {
    const problem = assertProblem(await t.request({ method: 'GET', url: '/v1/tickets?q=refund&statuss=open&status=open' }), 400, 'invalid_query');
    assert.deepEqual(problem.errors.map((e: { pointer: string }) => e.pointer).sort(), ['q', 'statuss']);
    assert.match(problem.detail, /known parameters: brand_id, status, priority/);
    const none = assertProblem(await t.request({ method: 'GET', url: '/v1/brands?brand_id=x' }), 400, 'invalid_query');
    assert.match(none.detail, /this operation takes no query parameters/);
  });

  it('refuses an unknown parameter on writes, and stores nothing', async () => {
    const before = await counts(t);
    const writes = [
      { method: 'POST', url: '/v1/tickets?dry_run=1', body: { brand_id: brand, subject: 'x', customer: { email: 'c@example.com' } } },
      { method: 'POST', url: `/v1/tickets/${ticket.id}/messages?notify=0`, body: { author_type: 'agent', body: 'hi' } },
      { method: 'PATCH', url: `/v1/tickets/${ticket.id}?force=1`, body: { priority: 'urgent' } },
      { method: 'POST', url: '/v1/brands?x=1', body: { name: 'B' } },
      { method: 'POST', url: '/v1/tokens?x=1', body: { name: 'n', scopes: ['tickets:read'] } },
      { method: 'POST', url: '/v1/tickets/search?q=refund', body: { query: 'refund', mode: 'keyword' } },
      { method: 'DELETE', url: `/v1/webhooks/${webhook.id}?cascade=1` },
    ];
    for (const w of writes) {
      const problem = assertProblem(await t.request(w), 400, 'invalid_query');
      assert.equal(problem.errors.length, 1, w.url);
    }
    assert.deepEqual(await counts(t), before);
    assert.equal((await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).json().priority, 'normal');
    assert.equal((await t.request({ method: 'GET', url: `/v1/webhooks/${webhook.id}` })).statusCode, 200);
  });

  it('takes the filters of the issue that were silently ignored before', async () => {
    const ids = async (q: string) => {
      const res = await t.request({ method: 'GET', url: `/v1/tickets?brand_id=${brand}&${q}` });
      assert.equal(res.statusCode, 200, res.body);
      return res.json().data.map((x: TicketJson) => x.id);
    };
    const other = await createTicket(t, brand, { tags: ['billing'] });
    assert.deepEqual(await ids('tags=shipping'), [ticket.id]);
    assert.deepEqual(await ids('sort=created_at'), [ticket.id, other.id]);
    assert.deepEqual(await ids('updated_after=2030-01-01'), []);
    assertProblem(await t.request({ method: 'GET', url: '/v1/tickets?q=refund' }), 400, 'invalid_query');
    // Public routes keep ignoring what caches and proxies add.
    assert.equal((await t.request({ method: 'GET', url: '/healthz?cache_bust=1', token: null })).statusCode, 200);
  });
});

describe('multi-value ticket filters', () => {
  let t: TestApp;
  let brand: string;
  const made: Record<string, TicketJson> = {};
  before(async () => {
    t = await buildTestApp();
    brand = (await createBrand(t)).id;
    made.a = await createTicket(t, brand, { tags: ['a'] });
    made.ab = await createTicket(t, brand, { tags: ['a', 'b'] });
    made.b = await createTicket(t, brand, { tags: ['b', 'x,y'] });
    made.none = await createTicket(t, brand);
    await t.request({ method: 'PATCH', url: `/v1/tickets/${made.ab!.id}`, body: { status: 'pending' } });
    await t.request({ method: 'PATCH', url: `/v1/tickets/${made.b!.id}`, body: { status: 'resolved' } });
  });
  after(() => t.close());

  const names = async (q: string): Promise<string[]> => {
    const res = await t.request({ method: 'GET', url: `/v1/tickets?brand_id=${brand}&${q}` });
    assert.equal(res.statusCode, 200, res.body);
    const byId = new Map(Object.entries(made).map(([name, x]) => [x.id, name]));
    return res.json().data.map((x: TicketJson) => byId.get(x.id));
  };

  it('status: any of, comma-separated or repeated', async () => {
    assert.deepEqual(await names('status=open'), ['none', 'a']);
    assert.deepEqual(await names('status=open,pending'), ['none', 'ab', 'a']);
    assert.deepEqual(await names('status=open&status=resolved'), ['none', 'b', 'a']);
    assert.deepEqual(await names('status=pending,resolved&status=open'), ['none', 'b', 'ab', 'a']);
  });

  it('tags: all of; tags_any: any of; tag: one whole tag, repeated for all of', async () => {
    assert.deepEqual(await names('tags=a,b'), ['ab']);
    assert.deepEqual(await names('tags=A, b'), ['ab']);
    assert.deepEqual(await names('tags=a'), ['ab', 'a']);
    assert.deepEqual(await names('tags_any=a,b'), ['b', 'ab', 'a']);
    assert.deepEqual(await names('tags_any=b&tags_any=zzz'), ['b', 'ab']);
    assert.deepEqual(await names('tag=a&tag=b'), ['ab']);
    assert.deepEqual(await names('tag=a'), ['ab', 'a']);
    // `tag` is matched whole: a tag may contain a comma.
    assert.deepEqual(await names('tag=x,y'), ['b']);
    assert.deepEqual(await names('tags=x,y'), []);
    assert.deepEqual(await names('tag=a&tags=b&tags_any=b,zzz&status=pending'), ['ab']);
  });

  it('refuses values that are not filters, and every one of them says which parameter', async () => {
    const bad: [string, string][] = [
      ['status=open,closed', 'status'],
      ['status=open,', 'status'],
      ['status=', 'status'],
      ['tags=a,,b', 'tags'],
      ['tags=%20', 'tags'],
      ['tags_any=,', 'tags_any'],
      ['tag=%20', 'tag'],
      [`tags=${Array.from({ length: 51 }, (_, i) => `t${i}`).join(',')}`, 'tags'],
      [`tags_any=${'x'.repeat(65)}`, 'tags_any'],
      ['sort=priority', 'sort'],
      ['sort=created_at&sort=updated_at', 'sort'],
      ['updated_after=2025-02-30', 'updated_after'],
      ['updated_before=yesterday', 'updated_before'],
    ];
    for (const [q, name] of bad) {
      const problem = assertProblem(await t.request({ method: 'GET', url: `/v1/tickets?${q}` }), 400, 'invalid_query');
      assert.ok(
        problem.errors.some((e: { pointer: string }) => e.pointer === name),
        `${q}: ${JSON.stringify(problem.errors)}`,
      );
    }
  });

  it('a cursor belongs to its filters and its order', async () => {
    const page = (await t.request({ method: 'GET', url: `/v1/tickets?brand_id=${brand}&status=open,pending&limit=1` })).json();
    assert.ok(page.next_cursor);
    const same = await t.request({ method: 'GET', url: `/v1/tickets?brand_id=${brand}&status=open,pending&limit=1&after=${page.next_cursor}` });
    assert.equal(same.statusCode, 200, same.body);
    assertProblem(
      await t.request({ method: 'GET', url: `/v1/tickets?brand_id=${brand}&status=open&limit=1&after=${page.next_cursor}` }),
      400,
      'invalid_cursor',
    );
    const sorted = (await t.request({ method: 'GET', url: `/v1/tickets?brand_id=${brand}&sort=updated_at&limit=1` })).json();
    assertProblem(await t.request({ method: 'GET', url: `/v1/tickets?brand_id=${brand}&sort=-updated_at&after=${sorted.next_cursor}` }), 400, 'invalid_cursor');
    assertProblem(await t.request({ method: 'GET', url: `/v1/tickets?brand_id=${brand}&after=${sorted.next_cursor}` }), 400, 'invalid_cursor');
  });
});

describe('ticket order and update-time filters', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  /**
   * Pages through a list. `during(page)` runs at the same time as the read of the next page
   * (writers racing the reader); `lastRead` is when the final page's read began.
   */
  async function walk(query: string, during?: (page: number) => Promise<void>): Promise<TicketJson[]> {
    const seen: TicketJson[] = [];
    let cursor: string | null = null;
    let page = 0;
    do {
      lastRead = performance.now();
      const read = t.request({ method: 'GET', url: `/v1/tickets?${query}${cursor ? `&after=${cursor}` : ''}` });
      const [res] = await Promise.all([read, page > 0 && during ? during(page) : undefined]);
      assert.equal(res.statusCode, 200, res.body);
      const body: { data: TicketJson[]; next_cursor: string | null } = res.json();
      seen.push(...body.data);
      cursor = body.next_cursor;
      page++;
    } while (cursor);
    return seen;
  }
  let lastRead = 0;

  it('updated_after and updated_before are exclusive, with the date rules of created_after', async () => {
    const b = (await createBrand(t)).id;
    const first = await createTicket(t, b);
    const second = await createTicket(t, b);
    t.clock.advance(3_600_000);
    const patched = (await t.request({ method: 'PATCH', url: `/v1/tickets/${first.id}`, body: { priority: 'high' } })).json();
    const ids = async (q: string) => (await walk(`brand_id=${b}&${q}`)).map((x) => x.id);
    assert.deepEqual(await ids(`updated_after=${second.updated_at}`), [first.id]);
    assert.deepEqual(await ids(`updated_before=${patched.updated_at}`), [second.id]);
    assert.deepEqual(await ids(`updated_after=${second.updated_at.slice(0, 10)}`), [second.id, first.id]);
    assert.deepEqual(await ids(`updated_after=${second.updated_at.slice(0, 16)}Z`), [first.id]);
    assert.deepEqual(await ids(`updated_after=${second.updated_at}&sort=updated_at`), [first.id]);
  });

  it('sorts by creation and update time, both ways', async () => {
    const b = (await createBrand(t)).id;
    const x = await createTicket(t, b);
    t.clock.advance(1000);
    const y = await createTicket(t, b);
    t.clock.advance(1000);
    const z = await createTicket(t, b);
    t.clock.advance(1000);
    await t.request({ method: 'PATCH', url: `/v1/tickets/${x.id}`, body: { priority: 'high' } });
    const ids = async (q: string) => (await walk(`brand_id=${b}&limit=1&${q}`)).map((r) => r.id);
    assert.deepEqual(await ids('sort=created_at'), [x.id, y.id, z.id]);
    assert.deepEqual(await ids('sort=-created_at'), [z.id, y.id, x.id]);
    assert.deepEqual(await ids('sort=updated_at'), [y.id, z.id, x.id]);
    assert.deepEqual(await ids('sort=-updated_at'), [x.id, z.id, y.id]);
    // Within one second, update order is the order the writes committed in.
    await t.request({ method: 'PATCH', url: `/v1/tickets/${z.id}`, body: { priority: 'high' } });
    await t.request({ method: 'PATCH', url: `/v1/tickets/${y.id}`, body: { priority: 'high' } });
    assert.deepEqual(await ids('sort=updated_at'), [x.id, z.id, y.id]);
  });

  it('sort=updated_at while others write: unchanged tickets once, changed ones again as they are now', async () => {
    const b = (await createBrand(t)).id;
    const all: TicketJson[] = [];
    for (let i = 0; i < 30; i++) all.push(await createTicket(t, b, { subject: `original ${i}` }));
    /** When each ticket was last written, as the writer saw its response. */
    const written = new Map<string, number>();
    let n = 0;
    // The clock stands still: every write lands in the same second as the rows already read.
    const seen = await walk(`brand_id=${b}&sort=updated_at&limit=4`, async (page) => {
      // Racing the next read: a ticket already read, one not read yet, and a new one.
      const read = all[(page * 4 - 2) % all.length]!;
      const ahead = all[(page * 7 + 5) % all.length]!;
      const writes = [read, ahead].map(async (x) => {
        written.set(x.id, Number.POSITIVE_INFINITY);
        const res = await t.request({ method: 'PATCH', url: `/v1/tickets/${x.id}`, body: { subject: `changed ${n++}` } });
        assert.equal(res.statusCode, 200, res.body);
        written.set(x.id, performance.now());
      });
      const created = createTicket(t, b).then((x: TicketJson) => {
        all.push(x);
        written.set(x.id, performance.now());
      });
      await Promise.all([...writes, created]);
    });
    const times = new Map<string, number>();
    for (const x of seen) times.set(x.id, (times.get(x.id) ?? 0) + 1);
    const mirror = new Map<string, string>();
    for (const x of seen) mirror.set(x.id, x.subject);
    for (const x of all) {
      const at = written.get(x.id);
      if (at === undefined) {
        assert.equal(times.get(x.id), 1, `${x.id}, unchanged, seen once`);
        continue;
      }
      // A write that finished before the last page was read is seen, and the last time the walk
      // saw the ticket is the ticket as it is now: a mirror upserting every row in walk order
      // ends equal to the source.
      if (at < lastRead) {
        const now = (await t.request({ method: 'GET', url: `/v1/tickets/${x.id}` })).json();
        assert.equal(mirror.get(x.id), now.subject, `${x.id}, changed during the walk, seen as it is now`);
      }
    }
    assert.ok(seen.length > all.length, 'changed tickets were seen again');
  });

  it('sort=created_at and -updated_at skip and repeat no unchanged ticket while others write', async () => {
    const b = (await createBrand(t)).id;
    const all: TicketJson[] = [];
    for (let i = 0; i < 20; i++) all.push(await createTicket(t, b));
    for (const sort of ['created_at', '-created_at', '-updated_at']) {
      const changed = new Set<string>();
      const seen = await walk(`brand_id=${b}&sort=${sort}&limit=3`, async (page) => {
        const x = all[(page * 3 - 2) % all.length]!;
        changed.add(x.id);
        await Promise.all([t.request({ method: 'PATCH', url: `/v1/tickets/${x.id}`, body: { subject: `${sort} ${page}` } }), createTicket(t, b)]);
      });
      for (const x of all) {
        const times = seen.filter((s) => s.id === x.id).length;
        if (!changed.has(x.id)) assert.equal(times, 1, `${sort}: ${x.id} seen once`);
        else if (sort === 'created_at' || sort === '-created_at') assert.equal(times, 1, `${sort}: creation order does not move`);
      }
    }
  });
});

describe('Location on every 201, and DELETE with an empty JSON body', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it('every create says where its resource is, and that URL reads it back', async () => {
    const check = async (url: string, body: unknown) => {
      const res = await t.request({ method: 'POST', url, body });
      assert.equal(res.statusCode, 201, res.body);
      const location = String(res.headers.location);
      assert.ok(location.endsWith(`/${res.json().id}`), `${url}: ${location}`);
      const read = await t.request({ method: 'GET', url: location });
      assert.equal(read.statusCode, 200, `${location}: ${read.body}`);
      assert.equal(read.json().id, res.json().id);
      return res.json();
    };
    const brand = await check('/v1/brands', { name: 'Located' });
    const ticket = await check('/v1/tickets', { brand_id: brand.id, subject: 'Where', customer: { email: 'c@example.com' } });
    const message = await check(`/v1/tickets/${ticket.id}/messages`, { author_type: 'agent', body: 'Here' });
    assert.equal(message.ticket_id, ticket.id);
    await check('/v1/queues', { brand_id: brand.id, name: 'Q', match: { priority: ['urgent'] } });
    await check('/v1/tokens', { name: 'reader', scopes: ['tickets:read'] });
    await check('/v1/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['*'] });
    await check('/v1/attachments', { file_name: 'a.txt', content_type: 'text/plain', brand_id: brand.id });
    // A message of another ticket is not found under this one.
    const other = await check('/v1/tickets', { brand_id: brand.id, subject: 'Other', customer: { email: 'c@example.com' } });
    assertProblem(await t.request({ method: 'GET', url: `/v1/tickets/${other.id}/messages/${message.id}` }), 404, 'not_found');
  });

  it('a DELETE or a body-less POST with Content-Type: application/json and no body is answered as one without', async () => {
    const hook = (await t.request({ method: 'POST', url: '/v1/webhooks', body: { url: 'http://127.0.0.1:9/hook', events: ['*'] } })).json();
    const headers = { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' };
    const rotated = await t.app.inject({ method: 'POST', url: `/v1/webhooks/${hook.id}/rotate-secret`, headers, payload: '' });
    assert.equal(rotated.statusCode, 200, rotated.body);
    const deleted = await t.app.inject({ method: 'DELETE', url: `/v1/webhooks/${hook.id}`, headers, payload: '' });
    assert.equal(deleted.statusCode, 204, deleted.body);
    assertProblem(await t.request({ method: 'GET', url: `/v1/webhooks/${hook.id}` }), 404, 'not_found');
    const token = (await t.request({ method: 'POST', url: '/v1/tokens', body: { name: 'gone', scopes: ['tickets:read'] } })).json();
    const revoked = await t.app.inject({ method: 'DELETE', url: `/v1/tokens/${token.id}`, headers, payload: '' });
    assert.equal(revoked.statusCode, 200, revoked.body);
    assert.ok(revoked.json().revoked_at);
    // A route that takes a body still says an empty one is not JSON, and stores nothing.
    const before = await countRows(t, 'tickets');
    assertProblem(await t.app.inject({ method: 'POST', url: '/v1/tickets', headers, payload: '' }), 400, 'invalid_json');
    assert.equal(await countRows(t, 'tickets'), before);
  });
});
