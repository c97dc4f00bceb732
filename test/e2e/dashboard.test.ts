import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import axe from 'axe-core';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { CHROMIUM, browserSuite, waitUntil } from '../helpers/browser.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { freePort } from '../helpers/server-process.js';

/*
 * The dashboard end to end: `npm start`'s server in a child process (real clock, real port, the
 * background dispatcher running), a local webhook receiver, and Debian's Chromium driven headless.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS = path.join(ROOT, 'test-output', 'screenshots');

browserSuite('the dashboard in a real browser', () => {
  let server: ChildProcess;
  let serverLog = '';
  let base: string;
  let dataDir: string;
  let profileDir: string;
  let adminToken: string;
  let receiver: WebhookReceiver;
  let context: BrowserContext;
  let page: Page;
  const cspViolations: string[] = [];
  const requestUrls: string[] = [];
  const axeReport: Record<string, { serious: number; other: string[] }> = {};
  let brandId: string;
  let ticketId: string;
  let searchAvailable = false;

  // biome-ignore lint/suspicious/noExplicitAny: the JSON body; tests assert on the fields they read
  async function apiCall(method: string, url: string, body?: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(base + url, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  }

  /** Screenshot, then axe-core on the page as it is: no serious or critical violation allowed. */
  async function check(name: string): Promise<void> {
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
    // Evaluated through the DevTools protocol, so the page's CSP (no inline scripts) does not apply.
    await page.evaluate(axe.source);
    const violations = (await page.evaluate(
      `axe.run(document, { resultTypes: ['violations'] }).then(r => r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5) })))`,
    )) as { id: string; impact: string; help: string; nodes: string[] }[];
    const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    axeReport[name] = { serious: serious.length, other: violations.filter((v) => !serious.includes(v)).map((v) => `${v.id} (${v.impact})`) };
    assert.deepEqual(serious, [], `axe on ${name}: ${JSON.stringify(serious, null, 2)}`);
  }

  before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    if (!fs.existsSync(path.join(ROOT, 'dashboard', 'dist', 'index.html'))) {
      execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'dashboard/vite.config.ts'], {
        cwd: ROOT,
        stdio: 'ignore',
      });
    }
    receiver = await startWebhookReceiver();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-e2e-'));
    profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-e2e-chromium-'));
    adminToken = `nxc_${randomBytes(32).toString('base64url')}`;
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: String(port),
        NEXUS_DATA_DIR: dataDir,
        NEXUS_ADMIN_TOKEN: adminToken,
        NEXUS_WEBHOOK_ALLOW_PRIVATE: '1',
        // One long delay: a failed attempt stays pending, so the retry the test clicks is the next attempt.
        NEXUS_WEBHOOK_RETRY_SCHEDULE: '1h',
        NEXUS_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout?.on('data', (d: Buffer) => (serverLog += d.toString()));
    server.stderr?.on('data', (d: Buffer) => (serverLog += d.toString()));
    await waitUntil('the server to be ready', async () => (await fetch(`${base}/readyz`).catch(() => null))?.ok, 120_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${serverLog}`);
    });

    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
      viewport: { width: 1280, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(10_000);
    page.on('console', (msg) => {
      if (/Content Security Policy|Refused to/i.test(msg.text())) cspViolations.push(msg.text());
    });
    page.on('request', (req) => requestUrls.push(req.url()));
  });

  after(async () => {
    await context?.close();
    receiver && (await receiver.close());
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
  });

  it('signs in with a token kept in session storage only', async () => {
    await page.goto(`${base}/dashboard`);
    await page.waitForURL(/\/dashboard\/sign-in$/);
    await check('01-sign-in');
    await page.getByLabel('API token').fill('nxc_not-a-real-token-but-long-enough-000000000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'bearer token is missing, unknown, revoked or expired' }).waitFor();

    // By keyboard alone: the field has focus, Tab reaches the button with a visible focus ring, Enter submits.
    await page.getByLabel('API token').fill(adminToken);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement.textContent'), 'Sign in');
    assert.equal(await page.evaluate('getComputedStyle(document.activeElement).outlineStyle'), 'solid');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Tickets' }).waitFor();
    await page.getByText('bootstrap admin (NEXUS_ADMIN_TOKEN)').waitFor();
    for (const link of ['Tickets', 'Brands and queues', 'Webhooks', 'Tokens']) {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link }).waitFor();
    }
    assert.equal(await page.evaluate('sessionStorage.getItem("nexus.token")'), adminToken);
    assert.equal(await page.evaluate('localStorage.length'), 0);
    assert.ok(!page.url().includes(adminToken));
  });

  it('creates a brand from the Brands page', async () => {
    await page.getByRole('link', { name: 'Brands and queues' }).click();
    await page.getByRole('heading', { level: 1, name: 'Brands and queues' }).waitFor();
    const form = page.getByRole('form', { name: 'Create a brand' });
    await form.getByLabel('Name').fill('Acme');
    await form.getByLabel('Id (optional)').fill('brand_e2e');
    await form.getByRole('button', { name: 'Create brand' }).click();
    await page.getByRole('status').filter({ hasText: 'Brand Acme (brand_e2e) created' }).waitFor();
    await page.getByRole('heading', { level: 3, name: /Acme/ }).waitFor();
    brandId = 'brand_e2e';
    // A second create with the same id shows the API's problem detail in words.
    await form.getByLabel('Name').fill('Acme again');
    await form.getByLabel('Id (optional)').fill('brand_e2e');
    await form.getByRole('button', { name: 'Create brand' }).click();
    await form.getByRole('alert').waitFor();
    assert.match((await form.getByRole('alert').textContent()) ?? '', /brand_e2e/);
    // The brand's e-mail addresses are managed on its card.
    const addresses = page.getByRole('form', { name: 'E-mail addresses of Acme' });
    await addresses.getByLabel('E-mail addresses').fill('Support@Acme.example, help@acme.example');
    await addresses.getByRole('button', { name: 'Save addresses' }).click();
    await addresses.getByRole('status').filter({ hasText: 'Addresses saved: support@acme.example, help@acme.example.' }).waitFor();
    const brand = await apiCall('GET', '/v1/brands/brand_e2e');
    assert.deepEqual(brand.json.email_addresses, ['support@acme.example', 'help@acme.example']);
    await check('02-brands');
    await page.getByRole('link', { name: /^Waiting tickets: Acme/ }).click();
    await page.getByRole('heading', { level: 1, name: /^Queue:/ }).waitFor();
    await page.getByText('No ticket is waiting in this queue.').waitFor();
    await check('03-queue');
  });

  it('creates a webhook, sees deliveries arrive, and retries a failed one from the UI', async (t: TestContext) => {
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('heading', { level: 1, name: 'Webhooks' }).waitFor();
    const form = page.getByRole('form', { name: 'Add an endpoint' });
    await form.getByLabel('Endpoint URL').fill(receiver.url);
    await form.getByLabel('Description (optional)').fill('e2e receiver');
    await form.getByLabel('ticket.created').check();
    await form.getByRole('button', { name: 'Add endpoint' }).click();
    const secret = await page.getByRole('textbox', { name: /Signing secret of/ }).inputValue();
    assert.match(secret, /^whsec_/);
    await page.getByRole('button', { name: 'Copy' }).waitFor();
    await page.getByRole('link', { name: receiver.url }).waitFor();
    await check('04-webhooks');
    assert.ok(!requestUrls.some((u) => u.includes(secret)), 'the secret never travels in a URL');

    await page.getByRole('link', { name: 'Open this endpoint and its delivery log' }).click();
    await page.getByRole('heading', { level: 2, name: 'Delivery log' }).waitFor();
    await page.getByText('No deliveries yet.').waitFor();

    const refreshUntil = async (selector: string) =>
      waitUntil(selector, async () => {
        await page.getByRole('button', { name: 'Refresh' }).click();
        await page.waitForTimeout(250);
        return (await page.locator(selector).count()) > 0;
      });

    // A ticket made through the API → its ticket.created delivery shows up, succeeded.
    receiver.respond(() => ({ status: 200, body: 'thanks' }));
    const first = await apiCall('POST', '/v1/tickets', { brand_id: brandId, subject: 'Printer on fire', customer: { email: 'pat@example.com' } });
    assert.equal(first.status, 201);
    await refreshUntil('.delivery[data-status="succeeded"]');
    assert.match((await page.locator('.delivery[data-status="succeeded"]').first().textContent()) ?? '', /HTTP 200[\s\S]*thanks/);

    // The receiver fails → the next delivery shows the failed attempt and its next retry.
    receiver.respond(() => ({ status: 500, body: 'receiver exploded' }));
    const second = await apiCall('POST', '/v1/tickets', { brand_id: brandId, subject: 'Second ticket', customer: { email: 'pat@example.com' } });
    assert.equal(second.status, 201);
    await refreshUntil('.delivery:has-text("HTTP 500")');
    const failing = page.locator('.delivery:has-text("HTTP 500")').first();
    assert.match((await failing.textContent()) ?? '', /receiver exploded/);
    assert.match((await failing.textContent()) ?? '', /next retry/);
    await check('05-webhook-deliveries-failing');

    // Retry from the UI while the receiver still fails: a second failed attempt.
    const deliveryId = await failing.getAttribute('data-delivery-id');
    const item = () => page.locator(`.delivery[data-delivery-id="${deliveryId}"]`);
    await item()
      .getByRole('button', { name: /^Retry now/ })
      .click();
    await waitUntil('a second attempt', async () => {
      await page.getByRole('button', { name: 'Refresh' }).click();
      await page.waitForTimeout(250);
      return /2 attempts/.test((await item().textContent()) ?? '');
    });
    // Then the receiver recovers and one more retry succeeds.
    receiver.respond(() => ({ status: 200, body: 'recovered' }));
    await item()
      .getByRole('button', { name: /^Retry now/ })
      .click();
    await refreshUntil(`.delivery[data-delivery-id="${deliveryId}"][data-status="succeeded"]`);
    assert.match((await item().textContent()) ?? '', /3 attempts[\s\S]*recovered/);

    // The test event, and the health column on the list.
    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.getByRole('status').filter({ hasText: 'Test event queued' }).waitFor();
    await refreshUntil('.delivery:has-text("webhook.test")');
    await check('06-webhook-detail');
    await page.getByRole('link', { name: '← Webhooks' }).click();
    await page.getByText('Last:').first().waitFor();
    t.diagnostic(`webhook deliveries seen by the receiver: ${receiver.received.length}`);
  });

  it('creates a token, shows its secret once, and revokes it', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tokens' }).click();
    await page.getByRole('heading', { level: 1, name: 'Tokens' }).waitFor();
    const form = page.getByRole('form', { name: 'Create a token' });
    await form.getByLabel('Name').fill('e2e support bot');
    await form.getByLabel('tickets:read').check();
    await form.getByLabel('Acme (brand_e2e)').check();
    await form.getByRole('button', { name: 'Create token' }).click();
    const secret = await page.getByRole('textbox', { name: 'Secret of "e2e support bot"' }).inputValue();
    assert.match(secret, /^nxc_/);
    const me = await fetch(`${base}/v1/tokens/me`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(me.status, 200);
    assert.deepEqual((await me.json()).brand_ids, ['brand_e2e']);
    await check('07-tokens');

    await page.getByRole('button', { name: 'Revoke e2e support bot' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Revoke token' }).click();
    await page.getByRole('status').filter({ hasText: 'Token "e2e support bot" revoked.' }).waitFor();
    const row = page.getByRole('row').filter({ hasText: 'e2e support bot' });
    await row.getByText('revoked').waitFor();
    const after = await fetch(`${base}/v1/tokens/me`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(after.status, 401);
    assert.ok(!requestUrls.some((u) => u.includes(secret)), 'the token never travels in a URL');
  });

  it('finds a ticket from the inbox and opens it', async (t: TestContext) => {
    const created = await apiCall('POST', '/v1/tickets', {
      brand_id: brandId,
      subject: 'Refund request for order 10021',
      description: 'Customer requested refund on order 10021: the parcel never arrived.',
      customer: { email: 'casey@example.com', name: 'Casey Customer' },
      tags: ['billing'],
    });
    assert.equal(created.status, 201);
    ticketId = created.json.id;
    const probe = await apiCall('POST', '/v1/tickets/search', { query: 'refund', limit: 1 });
    searchAvailable = probe.status !== 404 || probe.json?.code !== 'route_not_found';

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tickets' }).click();
    await page.getByRole('heading', { level: 1, name: 'Tickets' }).waitFor();
    await page.getByRole('link', { name: 'Refund request for order 10021' }).waitFor();
    await check('08-inbox');

    // The list filters.
    await page.getByLabel('Tag', { exact: true }).fill('billing');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('link', { name: 'Refund request for order 10021' }).waitFor();
    await waitUntil('the filtered list', async () => (await page.getByRole('link', { name: 'Printer on fire' }).count()) === 0);
    await page.getByRole('button', { name: 'Clear' }).click();

    await page.getByLabel('Search tickets').fill('refund for a parcel that never arrived');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('heading', { level: 2, name: /Search results for/ }).waitFor();
    if (searchAvailable) {
      const hit = page.getByRole('row').filter({ hasText: 'Refund request for order 10021' });
      await hit.waitFor();
      assert.match((await hit.textContent()) ?? '', /\d\.\d{3}/, 'the score is shown');
      await check('09-search');
      await hit.getByRole('link', { name: 'Refund request for order 10021' }).click();
    } else {
      // Until POST /v1/tickets/search exists the page shows the API's problem, and the inbox list is the way in.
      await page
        .getByRole('alert')
        .filter({ hasText: /not found|route/i })
        .waitFor();
      t.diagnostic('POST /v1/tickets/search is not available yet: the search step checked the error state and opened the ticket from the list');
      await check('09-search-unavailable');
      await page.getByRole('button', { name: 'Clear' }).click();
      await page.getByRole('link', { name: 'Refund request for order 10021' }).click();
    }
    await page.getByRole('heading', { level: 1, name: 'Refund request for order 10021' }).waitFor();
    await page.getByText('the parcel never arrived').waitFor();
    assert.ok(page.url().endsWith(`/dashboard/tickets/${ticketId}`));
  });

  it('shows how similar tickets were answered before, with status and score, linked', async () => {
    const like = await apiCall('POST', '/v1/tickets', {
      brand_id: brandId,
      subject: 'Parcel never arrived, refund please',
      description: 'My parcel never arrived and I would like a refund for the order.',
      customer: { email: 'robin@example.com' },
    });
    assert.equal(like.status, 201, JSON.stringify(like.json));
    const resolved = await apiCall('PATCH', `/v1/tickets/${like.json.id}`, { status: 'resolved' });
    assert.equal(resolved.status, 200, JSON.stringify(resolved.json));

    await page.reload();
    const section = page.getByRole('region', { name: 'How was this answered before?' });
    const link = section.getByRole('link', { name: 'Parcel never arrived, refund please' });
    await link.waitFor();
    const item = section.getByRole('listitem').filter({ hasText: 'Parcel never arrived, refund please' });
    const text = (await item.textContent()) ?? '';
    assert.match(text, /resolved/, 'the status is shown');
    assert.match(text, /score [01]\.\d\d/, 'the score is shown');
    assert.ok((await link.getAttribute('href'))?.endsWith(`/tickets/${like.json.id}`));
    assert.equal(await section.getByRole('link', { name: 'Refund request for order 10021' }).count(), 0, 'the ticket itself is not listed');
    await check('09b-similar');
    await link.click();
    await page.getByRole('heading', { level: 1, name: 'Parcel never arrived, refund please' }).waitFor();
    await page.goBack();
    await page.getByRole('heading', { level: 1, name: 'Refund request for order 10021' }).waitFor();
  });

  it('replies with a cc and sees it in the conversation', async () => {
    const form = page.getByRole('form', { name: 'Reply or internal note' });
    await form.getByLabel('Message').fill('Sorry about that: the refund is on its way.');
    await form.getByLabel('Cc').fill('finance@example.com');
    await form.getByRole('button', { name: 'Send reply' }).click();
    const reply = page.locator('.message.agent').filter({ hasText: 'the refund is on its way' });
    await reply.waitFor();
    assert.match((await reply.textContent()) ?? '', /Cc: finance@example\.com/);
    await page.getByRole('complementary', { name: 'Ticket details' }).getByText('finance@example.com').waitFor();
  });

  it('adds an internal note, shown apart from replies', async () => {
    const form = page.getByRole('form', { name: 'Reply or internal note' });
    await form.getByLabel('Message').fill('Checked with the warehouse: parcel lost.');
    await form.getByLabel(/Internal note/).check();
    await form.getByRole('button', { name: 'Add internal note' }).click();
    const note = page.locator('.message.internal').filter({ hasText: 'parcel lost' });
    await note.waitFor();
    assert.match((await note.textContent()) ?? '', /internal note/);
    await page.getByRole('article', { name: 'Internal note' }).first().waitFor();
    const messages = (await apiCall('GET', `/v1/tickets/${ticketId}/messages`)).json.data;
    assert.equal(messages.at(-1).visibility, 'internal');
  });

  it('lists a message attachment with a working download link', async () => {
    const bytes = 'Order 10021 receipt\n';
    const created = await apiCall('POST', '/v1/attachments', { file_name: 'receipt.txt', content_type: 'text/plain', size: Buffer.byteLength(bytes) });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const uploadUrl = new URL(created.json.upload_url, base).toString();
    const put = await fetch(uploadUrl, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: bytes });
    assert.equal(put.status, 200, await put.text());
    const message = await apiCall('POST', `/v1/tickets/${ticketId}/messages`, {
      author_type: 'customer',
      body: 'Here is my receipt.',
      attachments: [created.json.id],
    });
    assert.equal(message.status, 201, JSON.stringify(message.json));

    await page.reload();
    const link = page.getByRole('link', { name: 'Download receipt.txt' });
    await link.waitFor();
    const download = await fetch(new URL((await link.getAttribute('href'))!, base));
    assert.equal(download.status, 200);
    assert.equal(await download.text(), bytes);
  });

  it('changes the status, priority and tags', async () => {
    const form = page.getByRole('form', { name: 'Status and assignment' });
    await form.getByLabel('Status').selectOption('pending');
    await form.getByLabel('Priority').selectOption('high');
    await form.getByLabel('Assignee').fill('agent@example.com');
    await form.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    await page.getByRole('table', { name: 'Audit trail' }).getByText('status: open → pending').waitFor();
    const ticket = await apiCall('GET', `/v1/tickets/${ticketId}`);
    assert.equal(ticket.json.status, 'pending');
    assert.equal(ticket.json.priority, 'high');
    assert.equal(ticket.json.assigned_to, 'agent@example.com');
    await check('10-ticket');
  });

  it('reads well at a 390 px phone width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Refund request for order 10021' }).waitFor();
    await check('11-ticket-390');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tickets' }).click();
    await page.getByRole('heading', { level: 1, name: 'Tickets' }).waitFor();
    await page.getByRole('link', { name: 'Refund request for order 10021' }).waitFor();
    await check('12-inbox-390');
    const overflow = (await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
    assert.ok(overflow <= 1, `the page does not scroll sideways at 390 px (overflow ${overflow})`);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('signs out, and kept no secret in URLs, local storage or the CSP log', async (t: TestContext) => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/dashboard\/sign-in$/);
    assert.equal(await page.evaluate('sessionStorage.getItem("nexus.token")'), null);
    assert.equal(await page.evaluate('localStorage.length'), 0);
    assert.ok(!requestUrls.some((u) => u.includes(adminToken)), 'the token never travels in a URL');
    assert.deepEqual(cspViolations, []);
    assert.ok(!serverLog.includes(adminToken), 'the token is not in the server log');
    t.diagnostic(`axe: ${JSON.stringify(axeReport)}`);
  });
});
