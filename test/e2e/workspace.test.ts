import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { CHROMIUM, browserSuite, waitUntil } from '../helpers/browser.js';
import { type ServerProcess, startServer } from '../helpers/server-process.js';

/*
 * An agent's day in the dashboard, end to end: the real server (`src/main.ts`) and Debian's Chromium
 * headless, one of each for the whole file.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Committed, so a reviewer sees the pages without running anything. */
const SHOTS = path.join(ROOT, 'test', 'e2e', '__screenshots__');
const require = createRequire(import.meta.url);

const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const LONG_LINE =
  'The login page says my password expired, but the reset e-mail never arrives, not even in spam; I tried three browsers and two laptops since Monday morning.';

browserSuite("an agent's day in the dashboard", () => {
  let server: ServerProcess;
  let dataDir: string;
  let profileDir: string;
  let context: BrowserContext;
  let page: Page;
  let base: string;
  const adminToken = `nxc_${randomBytes(32).toString('base64url')}`;
  const axeReport: Record<string, string[]> = {};
  const ids = {} as Record<'old' | 'printer' | 'refund' | 'globex' | 'dupe', string>;

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

  // biome-ignore lint/suspicious/noExplicitAny: as above
  async function created(method: string, url: string, body: unknown): Promise<any> {
    const res = await apiCall(method, url, body);
    assert.ok(res.status === 201 || res.status === 200, `${method} ${url}: ${res.status} ${JSON.stringify(res.json)}`);
    return res.json;
  }

  /** axe-core on the page as it is: no serious or critical violation. */
  async function axeCheck(_t: TestContext, name: string): Promise<void> {
    // Evaluated through the DevTools protocol, so the page's CSP (no inline scripts) does not apply.
    await page.evaluate(AXE);
    const violations = (await page.evaluate(
      `axe.run(document, { resultTypes: ['violations'] }).then(r => r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5) })))`,
    )) as { id: string; impact: string; help: string; nodes: string[] }[];
    const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    axeReport[name] = violations.map((v) => `${v.id} (${v.impact})`);
    assert.deepEqual(serious, [], `axe on ${name}: ${JSON.stringify(serious, null, 2)}`);
  }

  async function shot(name: string): Promise<void> {
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true, animations: 'disabled', caret: 'hide' });
  }

  async function noSidewaysScroll(where: string): Promise<void> {
    const width = (await page.evaluate('document.scrollingElement.scrollWidth')) as number;
    assert.ok(width <= 390, `${where}: the page is ${width} px wide at 390 px`);
  }

  /** The preview of a long first line: all of it in the element and its title, shown on one line cut with an ellipsis, within the page. */
  async function assertPreviewCut(ticketId: string): Promise<void> {
    const preview = page.locator(`tr[data-ticket-id="${ticketId}"] .preview`);
    assert.equal(await preview.textContent(), LONG_LINE);
    assert.equal(await preview.getAttribute('title'), LONG_LINE);
    const box = await preview.evaluate((el) => {
      const style = getComputedStyle(el);
      return {
        cut: el.scrollWidth > el.clientWidth,
        lines: Math.round(el.getBoundingClientRect().height / Number.parseFloat(style.lineHeight)),
        ellipsis: style.textOverflow,
        right: el.getBoundingClientRect().right,
        viewport: document.documentElement.clientWidth,
      };
    });
    assert.deepEqual([box.cut, box.lines, box.ellipsis], [true, 1, 'ellipsis'], JSON.stringify(box));
    assert.ok(box.right <= box.viewport, `the preview ends inside the page: ${JSON.stringify(box)}`);
  }

  async function openTicket(id: string, subject: string): Promise<void> {
    await page.goto(`${base}/dashboard/tickets/${id}`);
    await page.getByRole('heading', { level: 1, name: subject }).waitFor();
  }

  before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    if (!fs.existsSync(path.join(ROOT, 'dashboard', 'dist', 'index.html'))) {
      execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'dashboard/vite.config.ts'], {
        cwd: ROOT,
        stdio: 'ignore',
      });
    }
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-e2e-day-'));
    profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-e2e-day-chromium-'));
    // Stopped in this suite's after hook (a cleanup registered from inside `before` would run at its end).
    server = await startServer(() => {}, { NEXUS_DATA_DIR: dataDir, NEXUS_ADMIN_TOKEN: adminToken }, { readyPath: '/readyz' });
    base = server.base;

    // Two brands; agents of the first, one of the second, one deactivated.
    await created('POST', '/v1/brands', { name: 'Acme', id: 'brand_acme' });
    await created('POST', '/v1/brands', { name: 'Globex', id: 'brand_globex' });
    await created('POST', '/v1/agents', { name: 'Alice Agent', email: 'alice@acme.example', role: 'agent', brand_ids: ['brand_acme'] });
    await created('POST', '/v1/agents', { name: 'Bob Builder', email: 'bob@acme.example', role: 'agent', brand_ids: ['brand_acme'] });
    await created('POST', '/v1/agents', { name: 'Gina Globex', email: 'gina@globex.example', role: 'agent', brand_ids: ['brand_globex'] });
    const gone = await created('POST', '/v1/agents', { name: 'Olga Old', email: 'olga@acme.example', role: 'agent', brand_ids: ['brand_acme'] });
    assert.equal((await apiCall('DELETE', `/v1/agents/${gone.id}`)).status, 200);

    const ticket = async (key: keyof typeof ids, brand: string, subject: string, email: string, name?: string) => {
      const t = await created('POST', '/v1/tickets', {
        brand_id: brand,
        subject,
        description: `${subject}: details from the customer.`,
        customer: { email, ...(name ? { name } : {}) },
      });
      ids[key] = t.id;
    };
    await ticket('old', 'brand_acme', 'Invoice copy for March', 'casey@example.com', 'Casey Customer');
    await ticket('printer', 'brand_acme', 'Printer on fire', 'pat@example.com', 'Pat Printer');
    await ticket('refund', 'brand_acme', 'Refund for order 10021', 'casey@example.com', 'Casey Customer');
    await ticket('globex', 'brand_globex', 'Globex login broken', 'gus@example.com');
    await ticket('dupe', 'brand_acme', 'Refund again (duplicate)', 'casey@example.com', 'Casey Customer');
    // A first line longer than the inbox has room for: shown cut, on one line.
    await created('POST', `/v1/tickets/${ids.globex}/messages`, { author_type: 'customer', body: `${LONG_LINE}\nSecond line, never shown in the inbox.` });
    // The oldest ticket gets the latest activity: sorting by last activity puts it first.
    await created('POST', `/v1/tickets/${ids.old}/messages`, { author_type: 'customer', body: 'Any news on the invoice?' });

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
    page.setDefaultTimeout(20_000);
    await page.goto(`${base}/dashboard/sign-in`);
    await page.getByLabel('API token').fill(adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Tickets' }).waitFor();
  });

  after(async () => {
    await context?.close();
    await server?.stop('SIGTERM');
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
  });

  it('sorts the inbox by last activity, with relative dates and the waiting time', async (t) => {
    await page.goto(`${base}/dashboard/tickets`);
    const rows = page.locator('table.tickets tbody tr');
    await page.getByRole('link', { name: 'Refund again (duplicate)' }).waitFor();
    assert.equal(await rows.first().getAttribute('data-ticket-id'), ids.dupe, 'newest first by default');

    await page.getByLabel('Sort').selectOption('-updated_at');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('heading', { level: 2, name: /last activity/ }).waitFor();
    await waitUntil('the last-activity order', async () => (await rows.first().getAttribute('data-ticket-id')) === ids.old);

    const row = page.locator(`tr[data-ticket-id="${ids.old}"]`);
    const when = row.locator('td[data-label="Last activity"] time');
    assert.match((await when.textContent()) ?? '', /just now|min ago/);
    assert.ok(await when.getAttribute('datetime'), 'a machine-readable date');
    assert.ok(await when.getAttribute('title'), 'the absolute date on hover');
    assert.match((await row.locator('td[data-label="Waiting"]').textContent()) ?? '', /min/);
    // The last message's first line under the subject; whole on hover.
    const preview = row.locator('td[data-label="Subject"] .preview');
    assert.equal(await preview.textContent(), 'Any news on the invoice?');
    assert.equal(await preview.getAttribute('title'), 'Any news on the invoice?');
    assert.equal(await page.locator(`tr[data-ticket-id="${ids.printer}"] .preview`).textContent(), 'Printer on fire: details from the customer.');
    await assertPreviewCut(ids.globex);
    await axeCheck(t, 'inbox');
    await shot('inbox-1280');
  });

  it('changes tickets in bulk and shows the result of each', async (t) => {
    await page.goto(`${base}/dashboard/tickets`);
    await page.getByRole('link', { name: 'Globex login broken' }).waitFor();
    const bulk = page.getByRole('form', { name: 'Bulk actions' });
    assert.ok(await bulk.getByRole('button', { name: 'Apply to selected' }).isDisabled(), 'nothing selected yet');
    await page.getByRole('checkbox', { name: 'Select Printer on fire' }).check();
    await page.getByRole('checkbox', { name: 'Select Globex login broken' }).check();
    await bulk.getByText('2 selected').waitFor();
    await bulk.getByLabel('Assign to').selectOption('alice@acme.example');
    await bulk.getByLabel('Add tags').fill('hardware, Urgent-Fix');
    await bulk.getByRole('button', { name: 'Apply to selected' }).click();
    // Alice is no agent of Globex: that ticket fails alone, the other is changed.
    await bulk.getByText('1 changed, 1 failed.').waitFor();
    const results = bulk.getByRole('list', { name: 'Result per ticket' });
    assert.match((await results.locator(`li[data-ticket-id="${ids.printer}"]`).textContent()) ?? '', /Printer on fire: changed/);
    assert.match((await results.locator(`li[data-ticket-id="${ids.globex}"]`).textContent()) ?? '', /failed \(422\)/);
    const printer = (await apiCall('GET', `/v1/tickets/${ids.printer}`)).json;
    assert.equal(printer.assigned_to, 'alice@acme.example');
    assert.deepEqual(printer.tags, ['hardware', 'urgent-fix']);
    assert.equal((await apiCall('GET', `/v1/tickets/${ids.globex}`)).json.assigned_to, null);
    // The list shows the assignee by name.
    await page.locator(`tr[data-ticket-id="${ids.printer}"] td[data-label="Assignee"]`).getByText('Alice Agent').waitFor();
    // Tags show as badges under the subject (the table has no tags column).
    const tags = page.locator(`tr[data-ticket-id="${ids.printer}"] td[data-label="Subject"] .tags .badge`);
    await waitUntil('the new tags under the subject', async () => (await tags.allTextContents()).join(',') === 'hardware,urgent-fix');
    await axeCheck(t, 'inbox with tags');
  });

  it('moves with j/k, resolves with e, opens the composer with r and n, and shows help with ?, never while typing', async () => {
    await page.goto(`${base}/dashboard/tickets`);
    await page.getByRole('link', { name: 'Refund again (duplicate)' }).waitFor();
    const current = () => page.locator('table.tickets tr.current').getAttribute('data-ticket-id');
    const order = await page.locator('table.tickets tbody tr').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.ticketId));
    await page.getByRole('heading', { level: 1, name: 'Tickets' }).click();
    await page.keyboard.press('j');
    await waitUntil('the first row', async () => (await current()) === order[0]);
    await page.keyboard.press('j');
    await waitUntil('the second row', async () => (await current()) === order[1]);
    await page.keyboard.press('k');
    await waitUntil('back to the first row', async () => (await current()) === order[0]);

    // Typing in the search box types; it does not move.
    const search = page.getByLabel('Search tickets');
    await search.focus();
    await page.keyboard.type('jjk e?');
    assert.equal(await search.inputValue(), 'jjk e?');
    assert.equal(await current(), order[0]);
    assert.equal(await page.getByRole('dialog').count(), 0);
    await search.fill('');

    await page.locator('table.tickets tr.current a.subject').focus();
    await page.keyboard.press('?');
    const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
    await help.waitFor();
    await help.getByText('Resolve the ticket').waitFor();
    await page.keyboard.press('Escape');
    await help.waitFor({ state: 'detached' });

    // e resolves the highlighted ticket (the newest: the duplicate refund).
    assert.equal(order[0], ids.dupe);
    await page.keyboard.press('e');
    await page.locator(`tr[data-ticket-id="${ids.dupe}"] .status-cell`).getByText('resolved').waitFor();
    assert.equal((await apiCall('GET', `/v1/tickets/${ids.dupe}`)).json.status, 'resolved');

    // n opens the ticket with an internal note ready; r with a reply.
    await page.keyboard.press('n');
    await page.getByRole('heading', { level: 1, name: 'Refund again (duplicate)' }).waitFor();
    await waitUntil('the note composer focused', async () => (await page.evaluate('document.activeElement?.id')) === 'compose-body');
    assert.ok(await page.getByRole('radio', { name: /Internal note/ }).isChecked());
    await page.goBack();
    await page.getByRole('link', { name: 'Refund again (duplicate)' }).waitFor();
    await page.getByRole('heading', { level: 1, name: 'Tickets' }).click();
    await page.keyboard.press('j');
    await waitUntil('the first row', async () => (await current()) === order[0]);
    await page.keyboard.press('r');
    await page.getByRole('heading', { level: 1, name: 'Refund again (duplicate)' }).waitFor();
    await waitUntil('the reply composer focused', async () => (await page.evaluate('document.activeElement?.id')) === 'compose-body');
    assert.ok(await page.getByRole('radio', { name: 'Reply to the customer' }).isChecked());
  });

  it('replies, writes an internal note, and uploads an attachment with progress', async () => {
    await openTicket(ids.refund, 'Refund for order 10021');
    const form = page.getByRole('form', { name: 'Reply or internal note' });
    await form.getByLabel('Internal note (agents only, never e-mailed)').check();
    assert.ok(await form.getByLabel('Cc').isHidden(), 'no cc on a note');
    await form.getByLabel('Message').fill('Warehouse says the parcel is lost.');
    await form.getByRole('button', { name: 'Add internal note' }).click();
    await page.getByRole('article', { name: 'Internal note' }).filter({ hasText: 'parcel is lost' }).waitFor();

    await form.getByLabel('Reply to the customer').check();
    await form.getByLabel('Message').fill('Your refund is on its way; the receipt is attached.');
    const bytes = Buffer.alloc(3 * 1024 * 1024, 'r');
    await form.getByLabel('Attach files').setInputFiles({ name: 'receipt.txt', mimeType: 'text/plain', buffer: bytes });
    const upload = form.locator('li.upload[data-file="receipt.txt"]');
    await upload.locator('progress').waitFor();
    await form.locator('li.upload[data-state="ready"]').waitFor();
    assert.equal(await upload.locator('progress').evaluate((p) => (p as HTMLProgressElement).value), 100);
    await form.getByRole('button', { name: 'Send reply' }).click();
    const reply = page.locator('.message.agent').filter({ hasText: 'refund is on its way' });
    await reply.getByRole('link', { name: 'Download receipt.txt' }).waitFor();
    const messages = (await apiCall('GET', `/v1/tickets/${ids.refund}/messages`)).json.data;
    const note = messages.find((m: { body: string }) => m.body.includes('parcel is lost'));
    const sent = messages.find((m: { body: string }) => m.body.includes('refund is on its way'));
    assert.equal(note.visibility, 'internal');
    assert.equal(sent.visibility, 'public');
    assert.equal(sent.attachments.length, 1);
    assert.equal(sent.attachments[0].size, bytes.length);
  });

  it('assigns from the agents of the brand, shows the customer’s other tickets and a readable audit trail', async (t) => {
    await openTicket(ids.refund, 'Refund for order 10021');
    const controls = page.getByRole('form', { name: 'Status and assignment' });
    const options = await controls.getByLabel('Assignee').locator('option').allTextContents();
    assert.deepEqual(options, ['Unassigned', 'Alice Agent <alice@acme.example>', 'Bob Builder <bob@acme.example>'], 'active agents of Acme only');
    await controls.getByLabel('Assignee').selectOption('bob@acme.example');
    await controls.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    assert.equal((await apiCall('GET', `/v1/tickets/${ids.refund}`)).json.assigned_to, 'bob@acme.example');

    const customer = page.getByRole('region', { name: 'Customer' });
    const others = customer.getByRole('list', { name: 'Other tickets' });
    await others.getByRole('link', { name: 'Invoice copy for March' }).waitFor();
    await others.getByRole('link', { name: 'Refund again (duplicate)' }).waitFor();
    assert.equal(await others.getByRole('link', { name: 'Refund for order 10021' }).count(), 0, 'not the ticket itself');
    assert.equal(await others.getByRole('link', { name: 'Printer on fire' }).count(), 0, 'not another customer’s');

    const audit = page.getByRole('table', { name: 'Audit trail' });
    await audit.getByText('assignee: ∅ → Bob Builder <bob@acme.example>').waitFor();
    await audit.getByText('queue: ∅ → Default').waitFor();
    assert.equal(await audit.getByText(/queue_/).count(), 0, 'no raw queue id');
    // A message in the trail links to it in the conversation; following it keeps the page (and a draft) as it is.
    const composer = page.getByRole('form', { name: 'Reply or internal note' }).getByLabel('Message');
    await composer.fill('a draft in progress');
    await audit.getByRole('link', { name: 'note by agent' }).click();
    await page.waitForURL(/#msg_/);
    assert.equal(await composer.inputValue(), 'a draft in progress');
    await composer.fill('');
    const styles = (await audit
      .locator('code.action')
      .first()
      .evaluate((el) => ({ ws: getComputedStyle(el).whiteSpace }))) as { ws: string };
    assert.equal(styles.ws, 'nowrap');
    const value = (await audit
      .locator('.changes .value')
      .first()
      .evaluate((el) => ({ wb: getComputedStyle(el).wordBreak, ow: getComputedStyle(el).overflowWrap }))) as { wb: string; ow: string };
    assert.deepEqual(value, { wb: 'normal', ow: 'anywhere' });
    await axeCheck(t, 'ticket');
    await shot('ticket-1280');
  });

  it('merges a ticket into another', async () => {
    await openTicket(ids.dupe, 'Refund again (duplicate)');
    const form = page.getByRole('form', { name: 'Merge' });
    await form.getByLabel('Merge into ticket').fill(ids.refund);
    await form.getByRole('button', { name: 'Merge…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Merge tickets' }).click();
    await page.getByRole('heading', { level: 1, name: 'Refund for order 10021' }).waitFor();
    await page
      .getByRole('status')
      .filter({ hasText: `Merged “Refund again (duplicate)” (${ids.dupe}) into this ticket.` })
      .waitFor();
    await page.getByText('Refund again (duplicate): details from the customer.').waitFor();
    const source = (await apiCall('GET', `/v1/tickets/${ids.dupe}`)).json;
    assert.equal(source.merged_into, ids.refund);
    await openTicket(ids.dupe, 'Refund again (duplicate)');
    await page.getByRole('note').getByRole('link', { name: ids.refund }).waitFor();
  });

  it('finds a customer, shows their tickets, and erases them after a dry run', async (t) => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Customers' }).click();
    await page.getByRole('heading', { level: 1, name: 'Customers' }).waitFor();
    await page.getByRole('searchbox', { name: 'Search customers' }).fill('CASEY');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'Casey Customer' }).waitFor();
    await waitUntil('only Casey', async () => (await page.getByRole('link', { name: 'Pat Printer' }).count()) === 0);
    await axeCheck(t, 'customers');
    await page.getByRole('link', { name: 'Casey Customer' }).click();
    await page.getByRole('heading', { level: 1, name: 'Casey Customer' }).waitFor();
    const tickets = page.getByRole('region', { name: 'Tickets of this customer' });
    await tickets.getByRole('link', { name: 'Invoice copy for March' }).waitFor();
    await tickets.getByRole('link', { name: 'Refund for order 10021' }).waitFor();
    const edit = page.getByRole('form', { name: 'Edit details' });
    await edit.getByLabel('External id').fill('crm-4711');
    await edit.getByLabel('Notes').fill('Prefers e-mail; VIP since 2021.');
    await edit.getByRole('button', { name: 'Save details' }).click();
    await edit.getByRole('status').filter({ hasText: 'Details saved.' }).waitFor();
    const casey = (await apiCall('GET', '/v1/customers?q=casey')).json.data[0];
    assert.equal(casey.external_id, 'crm-4711');
    assert.equal(casey.notes, 'Prefers e-mail; VIP since 2021.');
    assert.equal(casey.name, 'Casey Customer');
    await axeCheck(t, 'customer');
    await shot('customer-1280');

    // Erasure: on Pat, so Casey stays for the phone screenshots.
    await page.goto(`${base}/dashboard/customers`);
    await page.getByRole('searchbox', { name: 'Search customers' }).fill('pat@');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'Pat Printer' }).click();
    await page.getByRole('heading', { level: 1, name: 'Pat Printer' }).waitFor();
    await page.getByRole('button', { name: 'Erase this customer…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Erase Pat Printer?' });
    await dialog.waitFor();
    // The dry run's counts come first; Pat has one ticket.
    assert.ok((await dialog.locator('dd[data-count]').count()) > 0, 'the dry-run counts are shown');
    assert.equal(await dialog.locator('dd[data-count="tickets"]').textContent(), '1');
    assert.ok(await dialog.getByRole('button', { name: 'Erase for good' }).isDisabled());
    await dialog.getByLabel('Type pat@example.com to confirm').fill('pat@example.com');
    await dialog.getByRole('button', { name: 'Erase for good' }).click();
    await page.getByRole('status').filter({ hasText: 'Customer erased' }).waitFor();
    const left = (await apiCall('GET', '/v1/customers?q=pat%40example.com')).json;
    assert.equal(left.data.length, 0);
  });

  it('shows views with live counts in the sidebar', async () => {
    await page.goto(`${base}/dashboard/tickets`);
    await page.getByRole('link', { name: 'Invoice copy for March' }).waitFor();
    const sidebar = page.getByRole('navigation', { name: 'Views' });
    await sidebar.waitFor();
    const unassigned = sidebar.locator('button[data-view-id="view_unassigned"]');
    await unassigned.locator('.count').filter({ hasText: /^\d+$/ }).waitFor();
    const before = Number(await unassigned.locator('.count').textContent());
    await created('POST', '/v1/tickets', { brand_id: 'brand_acme', subject: 'Counted live', customer: { email: 'new@example.com' } });
    await waitUntil('the count to follow', async () => Number(await unassigned.locator('.count').textContent()) === before + 1, 30_000);
    await unassigned.click();
    await page.getByRole('heading', { level: 2, name: /^View: / }).waitFor();
    await page.getByRole('link', { name: 'Counted live' }).waitFor();
    assert.equal(await unassigned.getAttribute('aria-pressed'), 'true');
  });

  it('works at 390 px: no sideways scrolling, tables as lists, no serious axe finding', async (t) => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await page.goto(`${base}/dashboard/tickets`);
      await page.getByRole('link', { name: 'Invoice copy for March' }).waitFor();
      assert.equal(
        await page
          .locator('table.tickets tbody tr')
          .first()
          .evaluate((tr) => getComputedStyle(tr).display),
        'block',
        'rows are cards',
      );
      await noSidewaysScroll('inbox');
      await assertPreviewCut(ids.globex);
      await axeCheck(t, 'inbox-390');
      await shot('inbox-390');

      await openTicket(ids.refund, 'Refund for order 10021');
      await page.getByRole('region', { name: 'Customer' }).getByRole('link', { name: 'Invoice copy for March' }).waitFor();
      await noSidewaysScroll('ticket');
      // Action names stay whole: each sits on one line.
      const lines = await page.locator('table.audit code.action').evaluateAll((els) => els.map((el) => el.getClientRects().length));
      assert.ok(
        lines.every((n) => n === 1),
        `action names on one line each: ${lines}`,
      );
      await axeCheck(t, 'ticket-390');
      await shot('ticket-390');

      await page.goto(`${base}/dashboard/customers`);
      await page.getByRole('searchbox', { name: 'Search customers' }).fill('casey');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.getByRole('link', { name: 'Casey Customer' }).click();
      await page.getByRole('heading', { level: 1, name: 'Casey Customer' }).waitFor();
      await page.getByRole('region', { name: 'Tickets of this customer' }).getByRole('link', { name: 'Invoice copy for March' }).waitFor();
      await noSidewaysScroll('customer');
      await axeCheck(t, 'customer-390');
      await shot('customer-390');
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
    t.diagnostic(`axe (all impacts) per page: ${JSON.stringify(axeReport)}`);
  });
});
