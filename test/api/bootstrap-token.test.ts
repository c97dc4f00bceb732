import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { testPostgresUrl } from '../helpers/app.js';
import { type Cleanup, freePort, startServer } from '../helpers/server-process.js';

/** The `nexus` CLI as an operator runs it on the server; killed in `t.after` if still running. */
function runCli(cleanup: Cleanup, args: string[], env: Record<string, string>): { exited: Promise<number | null>; output(): string } {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/nexus.js', ...args], {
    env: { ...process.env, NEXUS_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  cleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { exited, output: () => output };
}

// The spawned server uses the embedded SQLite file of its data dir; the PostgreSQL run skips it.
describe('the bootstrap token (NEXUS_ADMIN_TOKEN) in a real npm start process', { skip: testPostgresUrl ? 'spawns servers on SQLite' : false }, () => {
  it('is refused revocation over the API; revoked with the CLI, the next start serves, warns once and keeps it revoked', async (t) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-bootstrap-'));
    t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const cleanup: Cleanup = t.after.bind(t);
    const secret = `nxc_${randomBytes(32).toString('base64url')}`;
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = { NEXUS_DATA_DIR: dataDir, NEXUS_ADMIN_TOKEN: secret };
    const json = { 'content-type': 'application/json' };
    const first = await startServer(cleanup, env, { port });
    const asBootstrap = { authorization: `Bearer ${secret}` };
    const me = (await (await fetch(`${base}/v1/tokens/me`, { headers: asBootstrap })).json()) as { id: string };
    const refused = await fetch(`${base}/v1/tokens/${me.id}`, { method: 'DELETE', headers: asBootstrap });
    assert.equal(refused.status, 409);
    assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.match(((await refused.json()) as { detail: string }).detail, /NEXUS_ADMIN_TOKEN/);
    const other = await fetch(`${base}/v1/tokens`, {
      method: 'POST',
      headers: { ...asBootstrap, ...json },
      body: JSON.stringify({ name: 'ops', scopes: ['admin'] }),
    });
    assert.equal(other.status, 201);
    const opsToken = ((await other.json()) as { token: string }).token;
    assert.equal(await first.stop('SIGTERM'), 0);

    // The operator's way to kill a leaked bootstrap token: the CLI, on the server, no restart needed.
    const cli = runCli(cleanup, ['tokens', 'revoke', me.id], { NEXUS_DATA_DIR: dataDir });
    assert.equal(await cli.exited, 0, cli.output());

    const second = await startServer(cleanup, env, { port });
    const warnings = second
      .output()
      .split('\n')
      .filter((line) => line.includes('NEXUS_ADMIN_TOKEN names a revoked token'));
    assert.equal(warnings.length, 1, second.output());
    assert.equal(JSON.parse(warnings[0]!).level, 40, 'logged as a warning');
    assert.ok(!second.output().includes(secret), 'the secret is never logged');
    assert.equal((await fetch(`${base}/v1/tokens/me`, { headers: asBootstrap })).status, 401, 'the revoked token stays unusable');
    const listed = (await (await fetch(`${base}/v1/tokens`, { headers: { authorization: `Bearer ${opsToken}` } })).json()) as {
      data: { id: string; revoked_at: string | null }[];
    };
    assert.ok(listed.data.find((x) => x.id === me.id)?.revoked_at, 'revocation is not undone');
    assert.equal(listed.data.length, 2, 'no replacement token was made behind the operator’s back');
    assert.equal(await second.stop('SIGTERM'), 0);
  });
});
