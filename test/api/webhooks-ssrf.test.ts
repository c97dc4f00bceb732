import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { ManualClock, systemClock } from '../../src/shared/clock.js';
import { createWebhookDispatcher } from '../../src/webhooks/dispatcher.js';
import { type Resolve, forbiddenReason, guardedLookup } from '../../src/webhooks/ssrf-guard.js';
import { build, buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, createBrand, createTicket } from '../helpers/factories.js';
import { type WebhookReceiver, startWebhookReceiver } from '../helpers/webhook-receiver.js';

/**
 * Addresses no webhook may reach: every range of the IANA IPv4 and IPv6 special-purpose registries
 * (and multicast), the forms that carry an IPv4 address inside IPv6, and odd IPv4 spellings.
 */
const FORBIDDEN_ADDRESSES: [address: string, what: string][] = [
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback, top of 127/8'],
  ['0.0.0.0', '"this host"'],
  ['10.0.0.1', 'private 10/8'],
  ['172.16.0.1', 'private 172.16/12'],
  ['172.31.255.255', 'private 172.16/12, top'],
  ['192.168.0.1', 'private 192.168/16'],
  ['100.64.0.1', 'carrier-grade NAT'],
  ['100.100.100.200', 'Alibaba Cloud metadata (CGNAT)'],
  ['169.254.169.254', 'link-local, cloud metadata'],
  ['192.0.0.1', 'IETF protocol assignments'],
  ['192.0.0.170', 'NAT64 discovery'],
  ['192.0.2.1', 'TEST-NET-1'],
  ['198.51.100.7', 'TEST-NET-2'],
  ['203.0.113.9', 'TEST-NET-3'],
  ['198.18.0.1', 'benchmarking'],
  ['192.88.99.1', '6to4 relay anycast (deprecated)'],
  ['192.31.196.1', 'AS112'],
  ['192.52.193.1', 'AMT'],
  ['192.175.48.1', 'AS112 direct delegation'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast (SSDP)'],
  ['240.0.0.1', 'reserved 240/4'],
  ['255.255.255.255', 'limited broadcast'],
  ['2130706433', '127.0.0.1 as one decimal number'],
  ['0177.0.0.1', '127.0.0.1 in octal'],
  ['0x7f.1', '127.0.0.1 in hex, two parts'],
  ['127.1', '127.0.0.1, short form'],
  ['0x7f000001', '127.0.0.1 as one hex number'],
  ['0xa9fea9fe', '169.254.169.254 as one hex number'],
  ['::1', 'IPv6 loopback'],
  ['::', 'IPv6 unspecified'],
  ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
  ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
  ['::ffff:0:127.0.0.1', 'IPv4-translated ::ffff:0:0:0/96'],
  ['::7f00:1', 'IPv4-compatible ::/96'],
  ['64:ff9b::7f00:1', 'NAT64 well-known prefix, loopback'],
  ['64:ff9b::a9fe:a9fe', 'NAT64 well-known prefix, metadata'],
  ['64:ff9b::808:808', 'NAT64 well-known prefix (whole range refused)'],
  ['64:ff9b:1::7f00:1', 'local-use NAT64 (RFC 8215)'],
  ['2002:7f00:1::1', '6to4 carrying 127.0.0.1'],
  ['2002:a9fe:a9fe::1', '6to4 carrying 169.254.169.254'],
  ['2001::80ff:ffff', 'Teredo'],
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo (RFC 4380 example)'],
  ['100::1', 'discard-only'],
  ['100:0:0:1::1', 'dummy prefix (RFC 9780)'],
  ['2001:2::1', 'benchmarking'],
  ['2001:3::1', 'AMT'],
  ['2001:4:112::1', 'AS112-v6'],
  ['2001:10::1', 'ORCHID (deprecated)'],
  ['2001:20::1', 'ORCHIDv2'],
  ['2001:30::1', 'drone remote ID'],
  ['2001:db8::1', 'documentation'],
  ['3fff::1', 'documentation (RFC 9637)'],
  ['5f00::1', 'segment routing SIDs'],
  ['2620:4f:8000::1', 'AS112 direct delegation v6'],
  ['fc00::1', 'unique local'],
  ['fd00:ec2::254', 'unique local, AWS metadata'],
  ['fe80::1', 'link-local'],
  ['fec0::1', 'site-local (deprecated)'],
  ['ff02::1', 'multicast'],
  ['4000::1', 'outside global unicast 2000::/3'],
];

/** Names that always mean this machine or its own network: refused when saved. */
const FORBIDDEN_NAMES = [
  'localhost',
  'LOCALHOST',
  'localhost.',
  'api.localhost',
  'ip6-localhost',
  'metadata.google.internal',
  'printer.local',
  'router.home.arpa',
  'nas.localdomain',
];

const PUBLIC_ADDRESSES = ['93.184.215.14', '8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '2001:4860:4860::8888', '2a00:1450:4001:82b::200e'];

const urlHost = (address: string) => (address.includes(':') ? `[${address}]` : address);

async function webhookCount(t: TestApp): Promise<number> {
  const row = await t.runtime.db
    .selectFrom('webhook_endpoints')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('SSRF guard when an endpoint is saved', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({ env: { NEXUS_WEBHOOK_ALLOW_PRIVATE: '0' } });
  });
  after(async () => t.close());

  it(`the table holds enough host forms (${FORBIDDEN_ADDRESSES.length + FORBIDDEN_NAMES.length})`, () => {
    assert.ok(FORBIDDEN_ADDRESSES.length + FORBIDDEN_NAMES.length >= 46);
  });

  it('refuses every special-purpose address and local name on create: 422 on /url, nothing stored', async () => {
    const before = await webhookCount(t);
    const hosts = [...FORBIDDEN_ADDRESSES.map(([a]) => urlHost(a)), ...FORBIDDEN_NAMES];
    for (const host of hosts) {
      const res = await t.request({ method: 'POST', url: '/v1/webhooks', body: { url: `http://${host}:8080/hook`, events: ['*'] } });
      const problem = assertProblem(res, 422, 'validation_failed');
      assert.equal(problem.errors[0].pointer, '/url', `${host}: ${res.body}`);
    }
    assert.equal(await webhookCount(t), before);
  });

  it('refuses them on update too, and the stored URL stays as it was', async () => {
    const created = await t.request({ method: 'POST', url: '/v1/webhooks', body: { url: 'https://hooks.example.com/nexus', events: ['*'] } });
    assert.equal(created.statusCode, 201, created.body);
    const { id } = created.json();
    const count = await webhookCount(t);
    for (const host of [...FORBIDDEN_ADDRESSES.map(([a]) => urlHost(a)), ...FORBIDDEN_NAMES]) {
      const res = await t.request({ method: 'PATCH', url: `/v1/webhooks/${id}`, body: { url: `https://${host}/hook` } });
      assert.equal(assertProblem(res, 422, 'validation_failed').errors[0].pointer, '/url', host);
    }
    assert.equal((await t.request({ method: 'GET', url: `/v1/webhooks/${id}` })).json().url, 'https://hooks.example.com/nexus');
    assert.equal(await webhookCount(t), count);
  });

  it('accepts public addresses and names', async () => {
    for (const host of [...PUBLIC_ADDRESSES.map(urlHost), 'hooks.example.com', 'localhost.example.com', 'internal.example.org']) {
      const res = await t.request({ method: 'POST', url: '/v1/webhooks', body: { url: `https://${host}/hook`, events: ['*'] } });
      assert.equal(res.statusCode, 201, `${host}: ${res.body}`);
    }
  });

  it('NEXUS_WEBHOOK_ALLOW_PRIVATE=1 still lets a development setup save loopback and private URLs', async (ctx) => {
    const dev = await build(ctx, { env: { NEXUS_WEBHOOK_ALLOW_PRIVATE: '1' } });
    for (const url of ['http://127.0.0.1:3000/hook', 'http://[::1]:3000/hook', 'http://localhost:3000/hook', 'http://10.1.2.3/hook']) {
      const res = await dev.request({ method: 'POST', url: '/v1/webhooks', body: { url, events: ['*'] } });
      assert.equal(res.statusCode, 201, `${url}: ${res.body}`);
    }
  });
});

describe('SSRF guard when a delivery is sent (names that resolve to special-purpose addresses)', () => {
  const silent = pino({ level: 'silent' });
  const nameOf = (i: number) => `h${i}.ssrf-test.example`;
  // No real DNS: each test name resolves to one address from the table, exactly as written there.
  const fakeDns: Resolve = async (hostname) => {
    const match = /^h(\d+)\.ssrf-test\.example$/.exec(hostname);
    const entry = match ? FORBIDDEN_ADDRESSES[Number(match[1])] : undefined;
    if (!entry) throw Object.assign(new Error(`no such host ${hostname}`), { code: 'ENOTFOUND' });
    return [{ address: entry[0], family: entry[0].includes(':') ? 6 : 4 }];
  };
  let t: TestApp;
  let receiver: WebhookReceiver;
  before(async () => {
    t = await buildTestApp({ clock: new ManualClock(new Date()), env: { NEXUS_WEBHOOK_RETRY_SCHEDULE: '1h' } });
    receiver = await startWebhookReceiver();
  });
  after(async () => {
    await receiver.close();
    await t.close();
  });

  it('refuses every one before connecting, and nothing reaches the local receiver', async () => {
    const brand = await createBrand(t);
    const hooks: { id: string; address: string }[] = [];
    for (let i = 0; i < FORBIDDEN_ADDRESSES.length; i++) {
      // Saved as a name (the save-time check cannot know where it points); the receiver's port,
      // so a loopback form that slipped through would land there.
      const res = await t.request({
        method: 'POST',
        url: '/v1/webhooks',
        body: { url: `http://${nameOf(i)}:${receiver.port}${receiver.path}`, brand_ids: [brand.id], events: ['ticket.created'] },
      });
      assert.equal(res.statusCode, 201, res.body);
      hooks.push({ id: res.json().id, address: FORBIDDEN_ADDRESSES[i]![0] });
    }
    const dispatcher = createWebhookDispatcher(
      { db: t.runtime.db, clock: t.clock, secretBox: t.runtime.secretBox, config: t.config, log: silent },
      { clock: systemClock, allowPrivate: false, resolve: fakeDns, pollIntervalMs: 50, attemptTimeoutMs: 3000 },
    );
    try {
      await createTicket(t, brand.id);
      await dispatcher.drain();
      for (const hook of hooks) {
        let attempts: { status_code: number | null; error: string | null }[] = [];
        for (let i = 0; i < 200 && attempts.length === 0; i++) {
          const res = await t.request({ method: 'GET', url: `/v1/webhooks/${hook.id}/deliveries` });
          attempts = res.json().data[0]?.attempts ?? [];
          if (attempts.length === 0) await sleep(25);
        }
        assert.equal(attempts.length, 1, `${hook.address}: one attempt recorded`);
        assert.equal(attempts[0]!.status_code, null, hook.address);
        assert.match(
          attempts[0]!.error ?? '',
          /^destination refused: h\d+\.ssrf-test\.example resolves to .+, a non-public address/,
          `${hook.address}: ${attempts[0]!.error}`,
        );
      }
    } finally {
      await dispatcher.stop({ graceMs: 0 });
    }
    assert.equal(receiver.received.length, 0);
  });

  it('with NEXUS_WEBHOOK_ALLOW_PRIVATE=1 the same name is delivered to (development setups)', async () => {
    const brand = await createBrand(t);
    const loopback = FORBIDDEN_ADDRESSES.findIndex(([a]) => a === '127.0.0.1');
    const res = await t.request({
      method: 'POST',
      url: '/v1/webhooks',
      body: { url: `http://${nameOf(loopback)}:${receiver.port}${receiver.path}`, brand_ids: [brand.id], events: ['ticket.created'] },
    });
    assert.equal(res.statusCode, 201, res.body);
    const dispatcher = createWebhookDispatcher(
      { db: t.runtime.db, clock: t.clock, secretBox: t.runtime.secretBox, config: t.config, log: silent },
      { clock: systemClock, allowPrivate: true, resolve: fakeDns, pollIntervalMs: 50, attemptTimeoutMs: 3000 },
    );
    try {
      await createTicket(t, brand.id);
      await dispatcher.drain();
      await receiver.waitFor(1, { timeoutMs: 10_000 });
    } finally {
      await dispatcher.stop({ graceMs: 0 });
    }
  });

  it('the lookup lets public addresses through, in canonical form, and refuses a mixed answer', async () => {
    const lookupWith = (addresses: string[]) =>
      new Promise<{ err: Error | null; result: unknown }>((resolve) =>
        guardedLookup(async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })), false)(
          'any.example',
          { all: true },
          (err, result) => resolve({ err, result }),
        ),
      );
    for (const address of PUBLIC_ADDRESSES) {
      assert.equal(forbiddenReason(address), undefined, address);
      const { err, result } = await lookupWith([address]);
      assert.equal(err, null, address);
      assert.deepEqual(result, [{ address, family: address.includes(':') ? 6 : 4 }]);
    }
    // One bad address among good ones poisons the answer: the socket could pick any of them.
    const mixed = await lookupWith(['8.8.8.8', '10.0.0.1']);
    assert.match(String(mixed.err?.message), /^destination refused/);
  });
});
