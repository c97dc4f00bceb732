import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { testPostgresUrl } from '../helpers/app.js';

const STARTUP_LIMIT_MS = 120_000;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

interface Proc {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code once the process has ended (at once if it already has). */
  exited: Promise<number | null>;
}

function run(args: string[], env: Record<string, string>): Proc {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    env: { ...process.env, NEXUS_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Polls /healthz until it answers, the process exits (fails at once) or the generous limit passes. */
async function waitHealthy(base: string, proc: Proc): Promise<void> {
  let exited = false;
  void proc.exited.then(() => (exited = true));
  const deadline = Date.now() + STARTUP_LIMIT_MS;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`the server exited before answering /healthz:\n${proc.output()}`);
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the server did not answer /healthz within ${STARTUP_LIMIT_MS} ms:\n${proc.output()}`);
}

async function stop(proc: Proc | undefined): Promise<void> {
  if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGKILL');
  await proc.exited;
}

// The spawned server uses the embedded SQLite file of its data dir; the PostgreSQL run skips it.
describe('the bootstrap token (NEXUS_ADMIN_TOKEN) in a real npm start process', { skip: testPostgresUrl ? 'spawns servers on SQLite' : false }, () => {
  it('is refused revocation over the API; revoked with the CLI, the next start serves, warns once and keeps it revoked', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-bootstrap-'));
    const secret = `nxc_${randomBytes(32).toString('base64url')}`;
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = { PORT: String(port), NEXUS_DATA_DIR: dataDir, NEXUS_ADMIN_TOKEN: secret };
    const json = { 'content-type': 'application/json' };
    const procs: Proc[] = [];
    try {
      const first = run(['src/main.ts'], env);
      procs.push(first);
      await waitHealthy(base, first);
      const asBootstrap = { authorization: `Bearer ${secret}` };
      const me = (await (await fetch(`${base}/v1/tokens/me`, { headers: asBootstrap })).json()) as { id: string };
      const refused = await fetch(`${base}/v1/tokens/${me.id}`, { method: 'DELETE', headers: asBootstrap });
      assert.equal(refused.status, 409);
      assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.match(((await refused.json()) as { detail: string }).detail, /NEXUS_ADMIN_TOKEN/);
      const other = await fetch(`${base}/v1/tokens`, { method: 'POST', headers: { ...asBootstrap, ...json }, body: JSON.stringify({ name: 'ops', scopes: ['admin'] }) });
      assert.equal(other.status, 201);
      const opsToken = ((await other.json()) as { token: string }).token;
      first.child.kill('SIGTERM');
      assert.equal(await first.exited, 0);

      // The operator's way to kill a leaked bootstrap token: the CLI, on the server, no restart needed.
      const cli = run(['bin/nexus.js', 'tokens', 'revoke', me.id], { NEXUS_DATA_DIR: dataDir });
      procs.push(cli);
      assert.equal(await cli.exited, 0, cli.output());

      const second = run(['src/main.ts'], env);
      procs.push(second);
      await waitHealthy(base, second);
      const warnings = second.output().split('\n').filter((line) => line.includes('NEXUS_ADMIN_TOKEN names a revoked token'));
      assert.equal(warnings.length, 1, second.output());
      assert.equal(JSON.parse(warnings[0]!).level, 40, 'logged as a warning');
      assert.ok(!second.output().includes(secret), 'the secret is never logged');
      assert.equal((await fetch(`${base}/v1/tokens/me`, { headers: asBootstrap })).status, 401, 'the revoked token stays unusable');
      const listed = (await (await fetch(`${base}/v1/tokens`, { headers: { authorization: `Bearer ${opsToken}` } })).json()) as { data: { id: string; revoked_at: string | null }[] };
      assert.ok(listed.data.find((x) => x.id === me.id)?.revoked_at, 'revocation is not undone');
      assert.equal(listed.data.length, 2, 'no replacement token was made behind the operator’s back');
      second.child.kill('SIGTERM');
      assert.equal(await second.exited, 0);
    } finally {
      for (const proc of procs) await stop(proc);
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
