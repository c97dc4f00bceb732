import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * How long a spawned server may take to answer /healthz. Generous on purpose: on a busy two-core
 * machine a cold start (tsx transpiling every file) has been seen to take over 10 s. The wait ends
 * early, with the server's output, as soon as the process exits.
 */
const START_TIMEOUT_MS = 120_000;

/** Every server process spawned by this test file, killed when the file's process exits, whatever happened. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  base: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code once the process has exited (immediately if it already has). */
  exited(): Promise<number | null>;
  /** Sends `signal` and waits for the exit; a no-op on a process that already exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Something that runs cleanup after a test: node:test's TestContext or the suite-level `after`. */
export type Cleanup = (fn: () => Promise<void> | void) => void;

export interface SpawnOptions {
  /** Reuses a data dir's address across a restart. */
  port?: number;
  /**
   * What node runs instead of `src/main.ts` (`npm start`): the `nexus` command, as in
   * `['bin/nexus.js', 'serve', '--processes', '2']` or `['bin/nexus.js', 'worker']`.
   */
  args?: string[];
}

/**
 * Spawns the real server (`src/main.ts`, as `npm start` runs it, or the `args` given) on a free
 * port. The process is registered with `cleanup` (pass `t.after` or `after`), so it is killed
 * whatever the test's outcome.
 */
export async function spawnServer(cleanup: Cleanup, env: Record<string, string>, options: SpawnOptions = {}): Promise<ServerProcess> {
  const port = options.port ?? (await freePort());
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', ...(options.args ?? ['src/main.ts'])], {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), NEXUS_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exit.then(() => running.delete(child));
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = () => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve(child.exitCode) : exit);
  const stop = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill(signal);
    return exit;
  };
  cleanup(async () => {
    await stop('SIGKILL');
  });
  return { child, port, base: `http://127.0.0.1:${port}`, output: () => output, exited, stop };
}

/**
 * Waits until `path` answers 200, polling with a short back-off; fails at once, with the server's
 * output, if the process exits first, and after START_TIMEOUT_MS otherwise.
 */
export async function waitReady(server: ServerProcess, urlPath = '/healthz'): Promise<void> {
  let exitedEarly = false;
  void server.exited().then(() => (exitedEarly = true));
  const deadline = Date.now() + START_TIMEOUT_MS;
  let delay = 20;
  for (;;) {
    if (exitedEarly) throw new Error(`server exited with ${server.child.exitCode} before it was ready:\n${server.output()}`);
    try {
      const res = await fetch(`${server.base}${urlPath}`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`server not ready after ${START_TIMEOUT_MS} ms:\n${server.output()}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 250);
  }
}

/** spawnServer, then waitReady. */
export async function startServer(cleanup: Cleanup, env: Record<string, string>, options: SpawnOptions & { readyPath?: string } = {}): Promise<ServerProcess> {
  const server = await spawnServer(cleanup, env, options);
  await waitReady(server, options.readyPath);
  return server;
}
