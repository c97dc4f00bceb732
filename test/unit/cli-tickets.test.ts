/**
 * `nexus tickets list|show|create|reply`: the CLI over HTTP (NEXUS_URL, NEXUS_TOKEN) against the real
 * app listening on a port, driven through the CLI's entry point as `npx nexus` runs it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { freePort } from '../helpers/server-process.js';

describe('nexus tickets', () => {
  let t: TestApp;
  let base: string;
  const saved = { url: process.env.NEXUS_URL, token: process.env.NEXUS_TOKEN };

  before(async () => {
    t = await buildTestApp();
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const address = t.app.server.address();
    assert.ok(address && typeof address === 'object');
    base = `http://127.0.0.1:${address.port}`;
  });
  after(async () => {
    await t.close();
    for (const [name, value] of [
      ['NEXUS_URL', saved.url],
      ['NEXUS_TOKEN', saved.token],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  /** Runs `nexus …` with NEXUS_URL and NEXUS_TOKEN set (`env` overrides them; undefined unsets). */
  async function nexus(argv: string[], env: { NEXUS_URL?: string | undefined; NEXUS_TOKEN?: string | undefined } = {}) {
    const values = { NEXUS_URL: base, NEXUS_TOKEN: t.adminToken, ...env };
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(
      argv,
      (l) => out.push(l),
      (l) => err.push(l),
    );
    return { code, out, err: err.join('\n') };
  }

  async function newBrand(): Promise<string> {
    const res = await t.request({ method: 'POST', url: '/v1/brands', body: { name: 'CLI brand' } });
    assert.equal(res.statusCode, 201);
    return res.json().id;
  }

  async function ticketCount(brandId: string): Promise<number> {
    const res = await t.request({ method: 'GET', url: `/v1/tickets?brand_id=${brandId}&limit=100` });
    return res.json().data.length;
  }

  it('creates a ticket, replies, shows it and lists tickets, as tables and as JSON', async () => {
    const brandId = await newBrand();
    const created = await nexus([
      'tickets',
      'create',
      '--brand',
      brandId,
      '--subject',
      'Refund request',
      '--description',
      'Order 10021',
      '--customer-email',
      'casey@example.com',
      '--customer-name',
      'Casey Customer',
      '--tags',
      'billing, refund',
    ]);
    assert.equal(created.code, 0, created.err);
    const id = /^created (tick_\w+) in queue .+: Refund request$/.exec(created.out[0]!)?.[1];
    assert.ok(id, created.out[0]);

    const reply = await nexus(['tickets', 'reply', id, '--body', 'Refund issued.\nAnything else?', '--author-email', 'agent@example.com']);
    assert.equal(reply.code, 0, reply.err);
    assert.match(reply.out[0]!, new RegExp(`^added agent message msg_\\w+ to ${id}$`));
    assert.equal((await nexus(['tickets', 'reply', id, '--body', 'Thanks!', '--customer'])).code, 0);

    const shown = await nexus(['tickets', 'show', id]);
    assert.equal(shown.code, 0, shown.err);
    assert.equal(shown.out[0], `${id}  Refund request`);
    for (const line of ['status    open', `brand     ${brandId}`, 'customer  Casey Customer <casey@example.com>', 'tags      billing, refund', '  Order 10021'])
      assert.ok(shown.out.includes(line), `show prints ${JSON.stringify(line)}:\n${shown.out.join('\n')}`);
    assert.ok(shown.out.some((l) => l.startsWith('--- agent agent@example.com, ')));
    assert.ok(shown.out.includes('  Refund issued.') && shown.out.includes('  Anything else?'), 'a multi-line body, indented line by line');

    const json = await nexus(['tickets', 'show', id, '--json']);
    const detail = JSON.parse(json.out.join('\n'));
    assert.equal(detail.id, id);
    assert.deepEqual(
      detail.messages.map((m: { author_type: string }) => m.author_type),
      ['customer', 'agent', 'customer'],
    );

    for (const subject of ['Second', 'Third, with a subject long enough to be cut short in the table so that it fits on one line']) {
      assert.equal((await nexus(['tickets', 'create', '--brand', brandId, '--subject', subject, '--customer-email', 'x@example.com'])).code, 0);
    }
    const table = await nexus(['tickets', 'list', '--brand', brandId]);
    assert.equal(table.code, 0, table.err);
    const [header, ...rows] = table.out;
    assert.match(header!, /^ID {2,}STATUS {2,}PRIORITY {2,}ASSIGNEE {2,}UPDATED {2,}SUBJECT$/);
    assert.equal(rows.length, 3);
    assert.ok(rows[0]!.includes('Third, with a subject long enough') && rows[0]!.endsWith('…'), 'newest first, long subjects cut');
    assert.ok(rows[2]!.startsWith(`${id} `) && rows[2]!.endsWith('Refund request'));
    for (const row of rows) assert.equal(row.indexOf(' open '), header!.indexOf('STATUS') - 1, 'columns line up');

    const lines = await nexus(['tickets', 'list', '--brand', brandId, '--json', '--limit', '2']);
    assert.equal(lines.code, 0);
    assert.equal(lines.out.length, 2, 'one JSON object a line, as many as --limit');
    assert.equal(JSON.parse(lines.out[1]!).subject, 'Second');
    const all = await nexus(['tickets', 'list', '--brand', brandId, '--json', '--all']);
    assert.deepEqual(all.out.map((l) => JSON.parse(l).subject).at(-1), 'Refund request');
    assert.equal(all.out.length, 3);
    assert.deepEqual((await nexus(['tickets', 'list', '--brand', brandId, '--status', 'pending'])).out, ['no tickets']);
  });

  it('prints the problem the API answered, with each field pointer, exits 1 and stores nothing', async () => {
    const brandId = await newBrand();
    const bad = await nexus(['tickets', 'create', '--brand', brandId, '--subject', 'Bad', '--customer-email', 'not-an-email', '--priority', 'soon']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^error: 422 validation_failed: /);
    assert.match(bad.err, /^ {2}\/customer\/email: /m);
    assert.match(bad.err, /^ {2}\/priority: /m);
    assert.equal(await ticketCount(brandId), 0, 'nothing stored');

    const badFilter = await nexus(['tickets', 'list', '--status', 'bogus']);
    assert.equal(badFilter.code, 1);
    assert.match(badFilter.err, /^error: 400 invalid_query: /);
    const missing = await nexus(['tickets', 'show', 'tick_doesnotexist']);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /^error: 404 not_found: /);
    const replyToMissing = await nexus(['tickets', 'reply', 'tick_doesnotexist', '--body', 'Hello']);
    assert.equal(replyToMissing.code, 1);
    const unauthorized = await nexus(['tickets', 'list'], { NEXUS_TOKEN: 'nxc_wrong' });
    assert.equal(unauthorized.code, 1);
    assert.match(unauthorized.err, /^error: 401 unauthorized: /);
    const readOnly = await t.token(['tickets:read']);
    const forbidden = await nexus(['tickets', 'create', '--brand', brandId, '--subject', 'No', '--customer-email', 'c@example.com'], { NEXUS_TOKEN: readOnly });
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.err, /^error: 403 forbidden: /);
    assert.equal(await ticketCount(brandId), 0, 'still nothing stored');
  });

  it('says what is missing or wrong in how it was called, and exits 2', async () => {
    const noToken = await nexus(['tickets', 'list'], { NEXUS_TOKEN: undefined });
    assert.equal(noToken.code, 2);
    assert.match(noToken.err, /NEXUS_TOKEN/);
    const badUrl = await nexus(['tickets', 'list'], { NEXUS_URL: 'ftp://example.com' });
    assert.equal(badUrl.code, 2);
    assert.match(badUrl.err, /NEXUS_URL must be an http\(s\) URL/);
    const nobody = await nexus(['tickets', 'list'], { NEXUS_URL: `http://127.0.0.1:${await freePort()}` });
    assert.equal(nobody.code, 1);
    assert.match(nobody.err, /^error: cannot reach http:\/\/127\.0\.0\.1:\d+ \(NEXUS_URL\): ECONNREFUSED/);

    const cases: [string[], RegExp][] = [
      [['tickets', 'create', '--brand', 'brand_x'], /tickets create needs --brand, --subject and --customer-email/],
      [['tickets', 'show'], /tickets show needs one ticket id/],
      [['tickets', 'reply', 'tick_x'], /tickets reply needs one ticket id \(tick_…\) and --body/],
      [['tickets', 'list', '--limit', '0'], /--limit takes a number/],
      [['tickets', 'list', '--limit', '5', '--all'], /--limit and --all do not go together/],
      [['tickets', 'frob'], /^nexus: unknown command "tickets frob"\n[\s\S]*tickets list/],
      [['tickets'], /^Usage: nexus tickets/],
      [['tickets', 'list', '[--brand', 'brand_123]'], /Unexpected argument '\[--brand'[\s\S]*\nUsage: nexus tickets list \[--brand B\]/],
      [['tickets', 'show', 'tick_x', '--verbose'], /Unknown option '--verbose'[\s\S]*\nUsage: nexus tickets show <ticket_id> \[--json\]$/],
    ];
    for (const [argv, message] of cases) {
      const result = await nexus(argv);
      assert.equal(result.code, 2, argv.join(' '));
      assert.match(result.err, message, argv.join(' '));
    }
    const help = await nexus(['tickets', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.out.join('\n'), /tickets reply <ticket_id> --body TEXT/);
  });
});
