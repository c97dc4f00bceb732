import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { main } from '../../src/cli/main.js';
import { openRuntime } from '../../src/bootstrap.js';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 8080);
    assert.equal(c.dataDir, path.resolve('./data'));
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.publicUrl, 'http://127.0.0.1:8080');
    assert.equal(c.attachmentMaxBytes, 25 * 1024 * 1024);
    assert.deepEqual(c.webhookRetryScheduleMs, [5e3, 3e5, 18e5, 72e5, 18e6, 36e6, 36e6]);
    assert.equal(c.processes, 1);
    assert.equal(c.pgPoolSize, 10);
    assert.deepEqual(c.email, {
      smtpPort: undefined,
      smtpHost: '127.0.0.1',
      tls: undefined,
      smtpMaxBytes: 35 * 1024 * 1024,
      senderLimitPerHour: 30,
      relayUrl: undefined,
      fromName: undefined,
      retryScheduleMs: [6e4, 3e5, 18e5, 72e5, 216e5, 432e5],
    });
  });

  it('never echoes the relay URL, which carries its password', () => {
    assert.throws(
      () => loadConfig({ NEXUS_MAIL_RELAY_URL: 'smtp://user:s3cret@[bad' }),
      (e: unknown) => e instanceof ConfigError && /NEXUS_MAIL_RELAY_URL/.test(e.message) && !e.message.includes('s3cret'),
    );
  });

  it('reads NEXUS_PROCESSES (a number, or auto for one per core) and NEXUS_PG_POOL', () => {
    assert.equal(loadConfig({ NEXUS_PROCESSES: '3' }).processes, 3);
    assert.equal(loadConfig({ NEXUS_PROCESSES: 'auto' }).processes, os.availableParallelism());
    assert.equal(loadConfig({ NEXUS_PG_POOL: '25' }).pgPoolSize, 25);
  });

  it('names the bad variable', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ PORT: 'x' }, /PORT/],
      [{ PORT: '70000' }, /PORT/],
      [{ NEXUS_ADMIN_TOKEN: 'short' }, /NEXUS_ADMIN_TOKEN/],
      [{ NEXUS_LOG_LEVEL: 'loud' }, /NEXUS_LOG_LEVEL/],
      [{ NEXUS_PUBLIC_URL: 'ftp://x' }, /NEXUS_PUBLIC_URL/],
      [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL/],
      [{ NEXUS_WEBHOOK_RETRY_SCHEDULE: '5 seconds' }, /NEXUS_WEBHOOK_RETRY_SCHEDULE/],
      [{ NEXUS_EMBEDDINGS_URL: 'http://x' }, /NEXUS_EMBEDDINGS_MODEL/],
      [{ NEXUS_PROCESSES: '0' }, /NEXUS_PROCESSES/],
      [{ NEXUS_PROCESSES: 'many' }, /NEXUS_PROCESSES/],
      [{ NEXUS_PG_POOL: '0' }, /NEXUS_PG_POOL/],
      [{ NEXUS_SMTP_PORT: 'smtp' }, /NEXUS_SMTP_PORT/],
      [{ NEXUS_SMTP_PORT: '70000' }, /NEXUS_SMTP_PORT/],
      [{ NEXUS_SMTP_TLS_CERT: '/x/cert.pem' }, /NEXUS_SMTP_TLS_KEY/],
      [{ NEXUS_SMTP_MAX_BYTES: '10' }, /NEXUS_SMTP_MAX_BYTES/],
      [{ NEXUS_MAIL_RELAY_URL: 'http://relay' }, /NEXUS_MAIL_RELAY_URL/],
      [{ NEXUS_MAIL_RETRY_SCHEDULE: 'soon' }, /NEXUS_MAIL_RETRY_SCHEDULE/],
      [{ NEXUS_MAIL_SENDER_LIMIT: '0' }, /NEXUS_MAIL_SENDER_LIMIT/],
    ];
    for (const [env, pattern] of cases) {
      assert.throws(
        () => loadConfig(env),
        (e: unknown) => e instanceof ConfigError && pattern.test(e.message),
      );
    }
  });

  it('builds the public URL from HOST/PORT unless NEXUS_PUBLIC_URL is set', () => {
    assert.equal(loadConfig({ PORT: '9000' }).publicUrl, 'http://127.0.0.1:9000');
    assert.equal(loadConfig({ NEXUS_PUBLIC_URL: 'https://help.example.com/' }).publicUrl, 'https://help.example.com');
  });
});

describe('nexus CLI', () => {
  it('creates, lists and revokes tokens and brands through the services', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-cli-'));
    const saved = process.env.NEXUS_DATA_DIR;
    process.env.NEXUS_DATA_DIR = dir;
    try {
      const lines: string[] = [];
      const errors: string[] = [];
      const run = (...argv: string[]) =>
        main(
          argv,
          (l) => lines.push(l),
          (l) => errors.push(l),
        );
      assert.equal(await run('db', 'migrate'), 0);
      assert.equal(await run('brands', 'create', '--name', 'Acme', '--id', 'brand_cli'), 0);
      assert.equal(await run('brands', 'list'), 0);
      assert.ok(lines.some((l) => l.startsWith('brand_cli\tAcme')));
      assert.equal(await run('tokens', 'create', '--name', 'bot', '--scopes', 'tickets:read,tickets:write', '--brands', 'brand_cli'), 0);
      const secret = /secret \(shown once\): (nxc_\S+)/.exec(lines.join('\n'))![1]!;
      const id = /created (tok_\w+)/.exec(lines.join('\n'))![1]!;
      lines.length = 0;
      assert.equal(await run('tokens', 'list'), 0);
      assert.ok(lines.some((l) => l.startsWith(`${id}\tactive`)));
      assert.ok(!lines.join('\n').includes(secret), 'list never shows secrets');
      assert.equal(await run('tokens', 'revoke', id), 0);
      lines.length = 0;
      await run('tokens', 'list');
      assert.ok(lines.some((l) => l.startsWith(`${id}\trevoked`)));
      // A token that belongs to an agent.
      const runtime = await openRuntime(loadConfig({ NEXUS_DATA_DIR: dir }));
      const agent = await runtime.services.agents.create(null, { name: 'Cli Agent', email: 'cli-agent@example.com' });
      await runtime.close();
      lines.length = 0;
      assert.equal(await run('tokens', 'create', '--name', 'agent bot', '--scopes', 'tickets:write', '--agent', agent.id), 0);
      assert.match(lines.join('\n'), new RegExp(`agent ${agent.id}`));
      const agentTokenId = /created (tok_\w+)/.exec(lines.join('\n'))![1]!;
      const reopened = await openRuntime(loadConfig({ NEXUS_DATA_DIR: dir }));
      assert.equal((await reopened.services.tokens.getToken(agentTokenId)).agent_id, agent.id);
      await reopened.close();
      assert.equal(await run('tokens', 'create', '--name', 'ghost', '--scopes', 'tickets:write', '--agent', 'agt_nope'), 1);
      assert.match(errors.join('\n'), /agent_id/);
      assert.equal(await run('tokens', 'create', '--name', 'x', '--scopes', 'everything'), 1);
      assert.match(errors.join('\n'), /scopes/);
      assert.equal(await run('tokens', 'create'), 2);
      assert.equal(await run('brands', 'create', '--name', 'Dup', '--id', 'brand_cli'), 1);
      assert.equal(await run('frobnicate'), 2);
      assert.equal(await run('serve', '--processes', 'lots'), 2);
      assert.match(errors.join('\n'), /--processes/);
    } finally {
      if (saved === undefined) delete process.env.NEXUS_DATA_DIR;
      else process.env.NEXUS_DATA_DIR = saved;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
