import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { removeDataDir, testPostgresUrl } from '../helpers/app.js';
import { type Cleanup, type SpawnOptions, freePort, spawnServer } from '../helpers/server-process.js';
import { customerTransport } from '../helpers/smtp.js';
import { waitFor } from '../helpers/wait.js';

const ADMIN = 'durability-admin-token-0123456789abcdef';

/** Resolves once something accepts connections on the port. */
const listening = (port: number): Promise<boolean | undefined> =>
  new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(undefined));
  });

/**
 * spawnServer, then a wait for /healthz longer than startServer's: on this shared two-core machine a
 * cluster's processes have been seen to take over two minutes to transpile and start under load.
 */
async function startServer(cleanup: Cleanup, env: Record<string, string>, options: SpawnOptions = {}) {
  const server = await spawnServer(cleanup, env, options);
  await waitFor(`the server answers /healthz\n${server.output()}`, 300_000, async () => {
    if (server.child.exitCode !== null) throw new Error(`the server exited:\n${server.output()}`);
    try {
      return (await fetch(`${server.base}/healthz`)).ok ? true : undefined;
    } catch {
      return undefined;
    }
  });
  return server;
}

async function api(base: string, method: string, url: string, body?: unknown) {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  // biome-ignore lint/suspicious/noExplicitAny: loose JSON in a test
  return { status: res.status, json: (await res.json()) as any };
}

describe('the SMTP listener in npm start', { skip: testPostgresUrl ? 'spawns SQLite servers' : false }, () => {
  it('a mail acknowledged with 250 is stored: the server killed right after the 250 has it on restart', async (t) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-smtp-'));
    t.after(() => removeDataDir(dataDir));
    const smtpPort = await freePort();
    const env = { NEXUS_DATA_DIR: dataDir, NEXUS_ADMIN_TOKEN: ADMIN, NEXUS_SMTP_PORT: String(smtpPort) };
    const first = await startServer(t.after.bind(t), env);
    const brand = await api(first.base, 'POST', '/v1/brands', { name: 'Acme', email_addresses: ['support@acme.test'] });
    assert.equal(brand.status, 201);
    await waitFor('the SMTP listener accepts connections', 60_000, () => listening(smtpPort));
    const customer = customerTransport(smtpPort);
    const sent = await customer.sendMail({ from: 'casey@example.net', to: 'support@acme.test', subject: 'Kept after a crash', text: 'Please keep me.' });
    await first.stop('SIGKILL');
    customer.close();
    assert.match(sent.response, /^250/);

    const second = await startServer(t.after.bind(t), env, { port: first.port });
    const list = await api(second.base, 'GET', '/v1/tickets');
    assert.equal(list.json.data.length, 1);
    assert.equal(list.json.data[0].subject, 'Kept after a crash');
    const ticket = await api(second.base, 'GET', `/v1/tickets/${list.json.data[0].id}`);
    assert.equal(ticket.json.description, 'Please keep me.');
    assert.deepEqual(
      ticket.json.messages[0].attachments.map((a: { file_name: string }) => a.file_name),
      ['original.eml'],
    );
    await second.stop('SIGTERM');
  });

  it('with --processes 2, exactly one process listens for SMTP, and every mail is taken', async (t) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-smtp-'));
    t.after(() => removeDataDir(dataDir));
    const smtpPort = await freePort();
    const env = { NEXUS_DATA_DIR: dataDir, NEXUS_ADMIN_TOKEN: ADMIN, NEXUS_SMTP_PORT: String(smtpPort), NEXUS_LOG_LEVEL: 'info' };
    const server = await startServer(t.after.bind(t), env, { args: ['bin/nexus.js', 'serve', '--processes', '2'] });
    assert.equal((await api(server.base, 'POST', '/v1/brands', { name: 'Acme', email_addresses: ['support@acme.test'] })).status, 201);
    await waitFor('the SMTP listener accepts connections', 60_000, () => listening(smtpPort));
    const customer = customerTransport(smtpPort);
    for (let i = 0; i < 5; i++) await customer.sendMail({ from: `c${i}@example.net`, to: 'support@acme.test', subject: `Mail ${i}`, text: 'x' });
    customer.close();
    assert.equal((await api(server.base, 'GET', '/v1/tickets')).json.data.length, 5);
    assert.equal(server.output().match(/SMTP listener accepting mail/g)?.length, 1, server.output());
    await server.stop('SIGTERM');
  });
});
