/**
 * The OpenAI-compatible embeddings provider end to end: a fake `/v1/embeddings` server on
 * 127.0.0.1, the real app over a real database, the queue drained by calling the
 * `search-maintenance` job directly (no timers).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import pino from 'pino';
import { buildApp } from '../../src/app.js';
import { loggerOptions } from '../../src/http/redact.js';
import type { App } from '../../src/http/types.js';
import { backgroundJobs, startJobs } from '../../src/workers.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, createBrand, createTicket } from '../helpers/factories.js';

const API_KEY = 'k-123';
const DIMS = 64;

/** Bag of words hashed into 64 dimensions, L2-normalised: texts sharing words are close. */
function bagOfWords(text: string): number[] {
  const v = new Array<number>(DIMS).fill(0);
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    let h = 2166136261;
    for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 16777619) >>> 0;
    v[h % DIMS]! += 1;
  }
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

interface Recorded {
  path: string;
  authorization: string | undefined;
  model: string;
  input: string[];
}

interface Hit {
  ticket: { id: string };
  score: number;
  match: { keyword: number | null; semantic: number | null };
}

describe('search with an OpenAI-compatible embeddings endpoint', () => {
  let server: Server;
  let base: string;
  const requests: Recorded[] = [];
  let failing = false;
  let t: TestApp;
  let logged: App;
  const logLines: string[] = [];
  const log = pino(
    { ...loggerOptions('trace') },
    new Writable({
      write: (chunk: Buffer, _enc, done) => {
        logLines.push(chunk.toString());
        done();
      },
    }),
  );
  let brand: string;
  const ids: Record<string, string> = {};

  const search = (body: Record<string, unknown>) =>
    logged.inject({ method: 'POST', url: '/v1/tickets/search', headers: { authorization: `Bearer ${t.adminToken}` }, payload: body });
  const hits = async (body: Record<string, unknown>): Promise<Hit[]> => {
    const res = await search(body);
    assert.equal(res.statusCode, 200, res.body);
    return res.json().data as Hit[];
  };
  const queue = async () =>
    (await t.runtime.db.selectFrom('search_embed_queue').select(['ticket_id', 'attempts']).orderBy('ticket_id').execute()).map((r) => ({
      ...r,
      attempts: Number(r.attempts),
    }));
  const maintenance = () => backgroundJobs(t.runtime).find((j) => j.name === 'search-maintenance')!;

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const parsed = JSON.parse(body) as { model: string; input: string[] };
        requests.push({ path: req.url ?? '', authorization: req.headers.authorization, model: parsed.model, input: parsed.input });
        if (req.url !== '/v1/embeddings') return void res.writeHead(404).end('no such route');
        // A careless gateway echoing the request's credentials in its error page.
        if (failing) return void res.writeHead(500, { 'content-type': 'text/plain' }).end(`upstream error (request had ${req.headers.authorization})`);
        const data = parsed.input.map((text, index) => ({ object: 'embedding', index, embedding: bagOfWords(text) }));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', model: parsed.model, data }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // The base form OpenAI SDKs take (`…/v1`); `/embeddings` is appended.
    t = await buildTestApp({
      env: { NEXUS_EMBEDDINGS_URL: `${base}/v1`, NEXUS_EMBEDDINGS_MODEL: 'test-embed', NEXUS_EMBEDDINGS_API_KEY: API_KEY, NEXUS_LOG_LEVEL: 'trace' },
    });
    logged = await buildApp({ db: t.runtime.db, clock: t.clock, config: t.config, services: t.runtime.services, secretBox: t.runtime.secretBox, logger: log });
    brand = (await createBrand(t)).id;
    ids.parcel = (
      await createTicket(t, brand, {
        subject: 'Where is my package?',
        description: 'My parcel never arrived, the courier says it was delivered to the wrong address.',
      })
    ).id;
    ids.password = (await createTicket(t, brand, { subject: 'Cannot log in', description: 'I forgot my password and the reset email never comes.' })).id;
    ids.invoice = (
      await createTicket(t, brand, { subject: 'Invoice copy needed', description: 'Please send the invoice for my last subscription payment.' })
    ).id;
  });
  after(async () => {
    await logged?.close();
    await t?.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('queues the vectors: no endpoint call inside the ticket transactions', async () => {
    assert.deepEqual((await queue()).map((q) => q.ticket_id).sort(), Object.values(ids).sort());
    assert.equal(requests.length, 0, 'creating tickets sends nothing to the endpoint');
    assert.equal(maintenance().everyMs, 500);
  });

  it('finds a new ticket by keywords before the queue is drained', async () => {
    const kw = await hits({ query: 'courier', mode: 'keyword' });
    assert.deepEqual(
      kw.map((h) => h.ticket.id),
      [ids.parcel],
    );
    const hybrid = await hits({ query: 'courier' });
    assert.equal(hybrid[0]?.ticket.id, ids.parcel);
    assert.ok(hybrid[0]!.match.keyword! > 0);
    assert.equal(hybrid[0]!.match.semantic, null, 'no vector yet');
    assert.deepEqual(await hits({ query: 'wrong address delivery', mode: 'semantic' }), []);
  });

  it('drains the queue in one batch with the model and the bearer key', async () => {
    requests.length = 0;
    assert.equal(await maintenance().run(), 3);
    assert.equal(requests.length, 1, 'three tickets, one request (batches of up to 64)');
    const [r] = requests;
    assert.equal(r!.path, '/v1/embeddings');
    assert.equal(r!.model, 'test-embed');
    assert.equal(r!.authorization, `Bearer ${API_KEY}`);
    assert.equal(r!.input.length, 3);
    assert.ok(
      r!.input.some((text) => text.startsWith('Where is my package?\n')),
      'subject and body are embedded',
    );
    assert.deepEqual(await queue(), []);
    assert.equal(await maintenance().run(), 0, 'nothing left: no request');
    assert.equal(requests.length, 1);
  });

  it('finds the ticket by meaning after the drain', async () => {
    requests.length = 0;
    // No word in common with the stemmed keyword index would be needed: semantic mode only.
    const sem = await hits({ query: 'parcel delivered to the wrong address', mode: 'semantic' });
    assert.equal(sem[0]?.ticket.id, ids.parcel);
    assert.equal(sem[0]!.match.keyword, null);
    assert.ok(sem[0]!.match.semantic! > 0);
    assert.equal(requests.length, 1, 'the query is embedded by the endpoint');
    assert.deepEqual(requests[0]!.input, ['parcel delivered to the wrong address']);
    assert.equal(requests[0]!.authorization, `Bearer ${API_KEY}`);
    const hybrid = await hits({ query: 'courier' });
    assert.equal(hybrid[0]?.ticket.id, ids.parcel);
    assert.ok(hybrid[0]!.match.semantic !== null, 'the vector side now answers too');
  });

  it('keeps items queued while the endpoint fails, backs off, never fails the API, and retries later', async () => {
    failing = true;
    ids.refund = (
      await createTicket(t, brand, { subject: 'Refund for a broken blender', description: 'The blender arrived cracked, I want my money back.' })
    ).id;
    requests.length = 0;
    // Through the job runner, as the server runs it: the failure is logged, not thrown.
    const stop = startJobs([maintenance()], log);
    for (let i = 0; i < 6000 && requests.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await stop();
    assert.equal(requests.length, 1);
    assert.deepEqual(await queue(), [{ ticket_id: ids.refund, attempts: 1 }]);
    assert.ok(
      logLines.some((l) => l.includes('background job failed') && l.includes('HTTP 500')),
      'the failure is logged',
    );
    // Backing off: the next tick within the second sends nothing.
    assert.equal(await maintenance().run(), 0);
    assert.equal(requests.length, 1);

    // Searches keep answering: hybrid falls back to the keyword side, semantic-only is a 503.
    const kw = await hits({ query: 'blender' });
    assert.equal(kw[0]?.ticket.id, ids.refund);
    assert.equal(kw[0]!.match.semantic, null);
    const res = await search({ query: 'money back for a cracked blender', mode: 'semantic' });
    assertProblem(res, 503, 'unavailable');
    const kwOnly = await hits({ query: 'blender', mode: 'keyword' });
    assert.equal(kwOnly[0]?.ticket.id, ids.refund);

    // Still failing after the backoff: the second attempt is counted and the wait doubles.
    t.clock.advance(1_001);
    await assert.rejects(maintenance().run(), /HTTP 500/);
    assert.deepEqual(await queue(), [{ ticket_id: ids.refund, attempts: 2 }]);
    t.clock.advance(1_001);
    assert.equal(await maintenance().run(), 0, 'second backoff is 2 s');

    // The endpoint recovers: the next drain after the backoff embeds the ticket.
    failing = false;
    t.clock.advance(1_000);
    const before = requests.length;
    assert.equal(await maintenance().run(), 1);
    assert.ok(requests.length > before);
    assert.deepEqual(await queue(), []);
    const sem = await hits({ query: 'money back for a cracked blender', mode: 'semantic' });
    assert.equal(sem[0]?.ticket.id, ids.refund);
  });

  it('re-queues a changed ticket and embeds its new text', async () => {
    const res = await t.request({
      method: 'POST',
      url: `/v1/tickets/${ids.password}/messages`,
      body: { author_type: 'customer', body: 'Also my two factor authenticator app was lost with my phone.' },
    });
    assert.ok(res.statusCode === 201 || res.statusCode === 200, res.body);
    assert.deepEqual(
      (await queue()).map((q) => q.ticket_id),
      [ids.password],
    );
    requests.length = 0;
    assert.equal(await maintenance().run(), 1);
    assert.ok(requests[0]!.input[0]!.includes('authenticator'));
    const sem = await hits({ query: 'two factor authenticator app lost with my phone', mode: 'semantic' });
    assert.equal(sem[0]?.ticket.id, ids.password);
  });

  it('never writes the API key to the logs or the database', async () => {
    assert.ok(logLines.length > 0, 'something was logged');
    const all = logLines.join('\n');
    assert.ok(!all.includes(API_KEY), 'the API key is in the logs');
    assert.ok(all.includes('[redacted]'), "the endpoint's echo of the key was scrubbed");
    const db = t.runtime.db;
    const tables =
      t.runtime.dialect === 'postgres'
        ? (
            await sql<{
              name: string;
            }>`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(db)
          ).rows
        : (await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(db)).rows;
    assert.ok(tables.some((r) => r.name === 'search_documents'));
    for (const { name } of tables) {
      const rows = (await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(db)).rows;
      for (const row of rows) {
        for (const value of Object.values(row)) {
          const bytes = Buffer.isBuffer(value) || value instanceof Uint8Array ? Buffer.from(value) : Buffer.from(String(value));
          assert.ok(!bytes.includes(API_KEY), `the API key is stored in ${name}`);
        }
      }
    }
    if (t.runtime.dialect !== 'postgres') {
      for (const file of fs.readdirSync(t.dataDir).filter((f) => f.includes('sqlite'))) {
        assert.ok(!fs.readFileSync(path.join(t.dataDir, file)).includes(API_KEY), `the API key is in ${file}`);
      }
    }
  });
});
