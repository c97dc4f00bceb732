import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { testPostgresUrl } from '../helpers/app.js';
import { type ServerProcess, freePort, startServer } from '../helpers/server-process.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';
import { waitFor } from '../helpers/wait.js';

const ADMIN = 'nxc_cluster_test_admin_token_0123456789abcdef';
/** Generous: a busy two-core machine runs three Node processes here. */
const WAIT_MS = 60_000;

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: the JSON body; the test asserts on the fields it reads
  json: any;
}

/**
 * One request on a connection of its own (no keep-alive): the cluster's primary hands each new
 * connection to the next process in turn, so consecutive calls reach different processes. The
 * request id is ours, so that the access log says which process answered.
 */
function call(base: string, method: string, url: string, options: { body?: unknown; token?: string; requestId: string }): Promise<Answer> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}${url}`,
      {
        method,
        agent: false,
        headers: {
          authorization: `Bearer ${options.token ?? ADMIN}`,
          'x-request-id': options.requestId,
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, json: text ? JSON.parse(text) : undefined }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** A free port whose successor is free too. */
async function twoFreePorts(): Promise<number> {
  for (;;) {
    const port = await freePort();
    const free = await new Promise<boolean>((resolve) => {
      const probe = net.createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port + 1, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

// biome-ignore lint/suspicious/noExplicitAny: pino's JSON lines; the test reads the fields it asserts on
const logLines = (server: ServerProcess): any[] =>
  server
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));

/** The pid of the process whose access log line carries `requestId`. */
const answeredBy = (server: ServerProcess, requestId: string): Promise<number> =>
  waitFor(
    `the access log line of ${requestId}`,
    WAIT_MS,
    () => logLines(server).find((l) => l.reqId === requestId && l.msg === 'request')?.pid as number | undefined,
  );

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A word the search analyser keeps as it is, unique to ticket `i`. */
const wordOf = (i: number) => `zorblax${String.fromCharCode(98 + Math.floor(i / 20))}${String.fromCharCode(98 + (i % 20))}`;

describe('nexus serve --processes 2 on SQLite', {
  skip: testPostgresUrl ? 'spawns SQLite servers; test/api/scale-postgres.test.ts is the PostgreSQL one' : false,
}, () => {
  it('gives each process its own metrics port: NEXUS_METRICS_PORT + its index', async (t) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-cluster-metrics-'));
    t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const port = await twoFreePorts();
    const server = await startServer(
      t.after.bind(t),
      { NEXUS_DATA_DIR: dataDir, NEXUS_ADMIN_TOKEN: ADMIN, NEXUS_METRICS_PORT: String(port), NEXUS_LOG_LEVEL: 'info' },
      { args: ['bin/nexus.js', 'serve', '--processes', '2'], readyPath: '/readyz' },
    );
    await waitFor('the primary reporting both processes serving', WAIT_MS, () => logLines(server).find((l) => l.role === 'primary' && l.processes === 2));
    const scrape = (p: number) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        http
          .get(`http://127.0.0.1:${p}/metrics`, { agent: false }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (text += c));
            res.on('end', () => resolve({ status: res.statusCode!, text }));
          })
          .on('error', reject);
      });
    const pids = new Set<string>();
    for (const p of [port, port + 1]) {
      // Each answers for itself, every time: one process behind each port.
      for (let i = 0; i < 3; i++) {
        const { status, text } = await waitFor(`metrics on port ${p}`, WAIT_MS, () => scrape(p).catch(() => undefined));
        assert.equal(status, 200);
        const pid = /^nexus_process_info\{pid="(\d+)"/m.exec(text)?.[1] ?? /^process_start_time_seconds (\S+)/m.exec(text)?.[1];
        assert.ok(pid, 'the scrape identifies its process');
        if (i === 0) pids.add(`${p}:${pid}`);
        else assert.ok(pids.has(`${p}:${pid}`), `port ${p} answered for another process`);
      }
    }
    await assert.rejects(scrape(port + 2), 'no third metrics listener');
  });

  it('serves one port from two processes: every write seen by both at once, search current, webhooks delivered, the failed-auth limit shared, a killed process restarted, SIGTERM stops all', async (t) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-cluster-'));
    t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const receiver = await startWebhookReceiver();
    t.after(() => receiver.close());
    const server = await startServer(
      t.after.bind(t),
      {
        NEXUS_DATA_DIR: dataDir,
        NEXUS_ADMIN_TOKEN: ADMIN,
        NEXUS_WEBHOOK_ALLOW_PRIVATE: '1',
        NEXUS_RATE_LIMIT_AUTH_FAILURES: '6',
        NEXUS_LOG_LEVEL: 'info',
      },
      { args: ['bin/nexus.js', 'serve', '--processes', '2'], readyPath: '/readyz' },
    );
    const { base } = server;
    await waitFor('the primary reporting both processes serving', WAIT_MS, () => logLines(server).find((l) => l.role === 'primary' && l.processes === 2));
    const started = logLines(server).filter((l) => l.msg === 'started an API process');
    assert.deepEqual(started.map((l) => l.role).sort(), ['api', 'jobs'], 'two API processes, the jobs in one of them');
    const primaryPid = server.child.pid!;

    let n = 0;
    const id = (what: string) => `cl-${what}-${++n}`;
    const brand = await call(base, 'POST', '/v1/brands', { body: { name: 'Cluster' }, requestId: id('brand') });
    assert.equal(brand.status, 201);
    const hook = await call(base, 'POST', '/v1/webhooks', { body: { url: receiver.url, events: ['ticket.created'] }, requestId: id('hook') });
    assert.equal(hook.status, 201);

    // Tickets created concurrently through the one port.
    const COUNT = 10;
    const creates = await Promise.all(
      Array.from({ length: COUNT }, (_, i) =>
        call(base, 'POST', '/v1/tickets', {
          body: { brand_id: brand.json.id, subject: `Cluster ${wordOf(i)}`, customer: { email: `c${i}@example.com` } },
          requestId: `cl-create-${i}`,
        }),
      ),
    );
    for (const c of creates) assert.equal(c.status, 201, JSON.stringify(c.json));
    const tickets = creates.map((c) => c.json as { id: string });
    const creators = await Promise.all(tickets.map((_, i) => answeredBy(server, `cl-create-${i}`)));
    const pids = new Set(creators);

    // Each ticket is read and searched until a process other than the one that created it has
    // answered: every answer, from either process, must have it at once.
    for (const [i, ticket] of tickets.entries()) {
      for (const kind of ['get', 'search'] as const) {
        await waitFor(`ticket ${i} ${kind} through the process that did not create it`, WAIT_MS, async () => {
          const requestId = id(`${kind}-${i}`);
          const res =
            kind === 'get'
              ? await call(base, 'GET', `/v1/tickets/${ticket.id}`, { requestId })
              : await call(base, 'POST', '/v1/tickets/search', { body: { query: wordOf(i), mode: 'keyword' }, requestId });
          assert.equal(res.status, 200, JSON.stringify(res.json));
          if (kind === 'get') assert.equal(res.json.id, ticket.id);
          else
            assert.deepEqual(
              res.json.data.map((r: { ticket: { id: string } }) => r.ticket.id),
              [ticket.id],
              `search for ${wordOf(i)}`,
            );
          const pid = await answeredBy(server, requestId);
          pids.add(pid);
          return pid !== creators[i] ? true : undefined;
        });
      }
    }
    assert.equal(pids.size, 2, 'both processes answered');

    // The dispatcher runs in one process; the events of both reach the receiver.
    const delivered = await receiver.waitFor(COUNT, { timeoutMs: WAIT_MS });
    assert.deepEqual(new Set(delivered.map((r) => r.json.data.ticket.id)), new Set(tickets.map((t) => t.id)));

    // The process running the jobs dies: another takes its place and its role.
    const jobsPid = started.find((l) => l.role === 'jobs')!.pid as number;
    process.kill(jobsPid, 'SIGKILL');
    const replacement = await waitFor('a new jobs process', WAIT_MS, () =>
      logLines(server).find((l) => l.msg === 'started an API process' && l.role === 'jobs' && l.pid !== jobsPid),
    );
    assert.ok(logLines(server).some((l) => l.msg === 'an API process exited; starting another' && l.pid === jobsPid));
    const after = await waitFor('a ticket created after the restart', WAIT_MS, async () => {
      // A connection handed to the process as it died is reset: try again.
      const res = await call(base, 'POST', '/v1/tickets', {
        body: { brand_id: brand.json.id, subject: 'After the crash', customer: { email: 'z@example.com' } },
        requestId: id('after'),
      }).catch(() => undefined);
      return res?.status === 201 ? (res.json as { id: string }) : undefined;
    });
    await receiver.waitFor(1, { timeoutMs: WAIT_MS, filter: (r) => r.json.data.ticket.id === after.id });

    // Failed credentials are written through to the database: the limit holds across processes,
    // where counting apart would let each process allow its own 6.
    const statuses: number[] = [];
    const failurePids = new Set<number>();
    for (let i = 0; i < 16; i++) {
      const requestId = id('badtoken');
      statuses.push((await call(base, 'GET', '/v1/tickets?limit=1', { token: 'nxc_not_a_real_token_0123456789abcdef0123', requestId })).status);
      failurePids.add(await answeredBy(server, requestId));
    }
    assert.equal(failurePids.size, 2, 'the failures reached both processes');
    const unauthorized = statuses.filter((s) => s === 401).length;
    assert.ok(unauthorized >= 6 && unauthorized <= 7, `401s before the limit: ${unauthorized} (${statuses.join(' ')})`);
    assert.equal(statuses.at(-1), 429);

    // Nothing went wrong but the crash we caused.
    const errors = logLines(server).filter((l) => l.level >= 50 && l.msg !== 'an API process exited; starting another');
    assert.deepEqual(errors, []);

    // SIGTERM to the primary stops every process, gracefully.
    const workers = logLines(server)
      .filter((l) => l.msg === 'started an API process')
      .map((l) => l.pid as number);
    assert.ok(workers.includes(replacement.pid));
    assert.equal(await server.stop('SIGTERM'), 0);
    assert.ok(!alive(primaryPid));
    await waitFor('every API process gone', WAIT_MS, () => (workers.some(alive) ? undefined : true));
  });
});
