import cluster, { type Worker } from 'node:cluster';
import pino from 'pino';
import { bootstrapAdminToken, openRuntime } from './bootstrap.js';
import type { Config } from './config.js';
import { loggerOptions } from './http/redact.js';

/** How long the API processes get to finish after SIGTERM before they are killed (each gives up at 20 s itself). */
const STOP_GRACE_MS = 25_000;
/** A process that lived less than this before exiting is restarted after a growing pause, not at once. */
const HEALTHY_AFTER_MS = 10_000;
const RESTART_DELAY_MIN_MS = 250;
const RESTART_DELAY_MAX_MS = 15_000;

type Role = 'jobs' | 'api';

interface Slot {
  role: Role;
  worker: Worker;
  startedAt: number;
  /** Pause before the next restart of this slot, grown while its process keeps dying young. */
  restartDelayMs: number;
}

/**
 * `nexus serve --processes N` (NEXUS_PROCESSES): this process becomes a node:cluster primary that
 * serves nothing itself. It brings the database up to date and makes sure an admin token exists
 * (once, so that several processes never race to migrate or print two first tokens), then forks N
 * API processes, which share the port (the primary accepts connections and hands them out in
 * turn). Each runs `serve` as a single process would.
 *
 * - The background jobs and the webhook dispatcher run in exactly one of them (NEXUS_WORKERS=1 in
 *   its environment, 0 in the others'), or in none with NEXUS_WORKERS=0 (then in `nexus worker`).
 * - A process that exits unasked is started again in the same role, after a pause that grows
 *   while it keeps dying young. One that exits before every process listened once stops the whole
 *   start: a bad port or configuration would only fail again.
 * - SIGTERM or SIGINT to the primary stops every process gracefully (each finishes its requests
 *   in flight), then the primary exits.
 *
 * What the processes share goes through the database: every write is visible to every process at
 * its commit, each process's search indexes catch up from the database at each search, and the
 * rate limiter sums its counts there (docs/architecture.md, "Processes").
 */
export async function serveCluster(config: Config): Promise<void> {
  const log = pino(loggerOptions(config.logLevel)).child({ role: 'primary' });
  const runtime = await openRuntime(config);
  try {
    await bootstrapAdminToken(runtime, log);
  } finally {
    await runtime.close();
  }

  const slots = new Set<Slot>();
  let stopping = false;
  let listening = 0;
  let started = false;

  // Each process keeps its own metrics, and a scrape of the shared public port would reach any one
  // of them: with NEXUS_METRICS_PORT=P, process i serves its metrics on P + i (a restarted process
  // takes its predecessor's port), so a scraper lists P … P + N - 1 as targets.
  const metricsPortOf = (index: number) => (config.metrics.port ? { NEXUS_METRICS_PORT: String(config.metrics.port + index) } : {});

  const fork = (role: Role, index: number, restartDelayMs = RESTART_DELAY_MIN_MS): Slot => {
    const worker = cluster.fork({
      NEXUS_PROCESSES: '1',
      NEXUS_WORKERS: role === 'jobs' ? '1' : '0',
      ...metricsPortOf(index),
    });
    const slot: Slot = { role, worker, startedAt: performance.now(), restartDelayMs };
    slots.add(slot);
    log.info({ pid: worker.process.pid, role }, 'started an API process');
    worker.once('listening', () => {
      if (started) return;
      if (++listening === config.processes) {
        started = true;
        log.info(
          { processes: config.processes, url: config.publicUrl, jobs: config.runWorkers ? 'in one API process' : 'in nexus worker' },
          'NexusCore is serving',
        );
      }
    });
    worker.once('exit', (code, signal) => {
      slots.delete(slot);
      if (stopping) return;
      if (!started) {
        log.error({ pid: worker.process.pid, code, signal }, 'an API process exited while starting; stopping');
        void stop(1);
        return;
      }
      const lived = performance.now() - slot.startedAt;
      const delay = lived >= HEALTHY_AFTER_MS ? 0 : slot.restartDelayMs;
      log.error({ pid: worker.process.pid, code, signal, role, restart_in_ms: delay }, 'an API process exited; starting another');
      const next = lived >= HEALTHY_AFTER_MS ? RESTART_DELAY_MIN_MS : Math.min(slot.restartDelayMs * 2, RESTART_DELAY_MAX_MS);
      setTimeout(() => {
        if (!stopping) fork(role, index, next);
      }, delay);
    });
    return slot;
  };

  async function stop(exitCode: number): Promise<void> {
    if (stopping) return;
    stopping = true;
    const exits = [...slots].map((s) => new Promise<void>((resolve) => (s.worker.isDead() ? resolve() : s.worker.once('exit', () => resolve()))));
    for (const s of slots) if (!s.worker.isDead()) s.worker.process.kill('SIGTERM');
    let forced = false;
    const force = setTimeout(() => {
      forced = true;
      log.error('API processes still running after 25 s; killing them');
      for (const s of slots) if (!s.worker.isDead()) s.worker.process.kill('SIGKILL');
    }, STOP_GRACE_MS);
    await Promise.all(exits);
    clearTimeout(force);
    log.info('stopped');
    process.exit(forced ? 1 : exitCode);
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (!stopping) log.info({ signal }, 'shutting down: stopping every API process');
      void stop(0);
    });
  }

  for (let i = 0; i < config.processes; i++) fork(i === 0 && config.runWorkers ? 'jobs' : 'api', i);
}
