import { type ChildProcess, spawn } from 'node:child_process';
import type { TestApp } from './app.js';
import { ROOT } from './server-process.js';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `nexus <args>` as its own process on a test app's database (its data dir, or its
 * PostgreSQL database), as an operator runs it; killed at cleanup (`t.after`) if still running.
 */
export function runNexus(t: { after(fn: () => void): void }, app: TestApp, args: string[]): { child: ChildProcess; done: Promise<CliRun> } {
  const child = spawn(process.execPath, ['bin/nexus.js', ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      NEXUS_DATA_DIR: app.dataDir,
      NEXUS_LOG_LEVEL: 'warn',
      ...(app.config.databaseUrl ? { DATABASE_URL: app.config.databaseUrl } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, done: new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr }))) };
}
