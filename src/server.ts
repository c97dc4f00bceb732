import cluster from 'node:cluster';
import pino from 'pino';
import { buildApp } from './app.js';
import { bootstrapAdminToken, openRuntime } from './bootstrap.js';
import { serveCluster } from './cluster.js';
import { ConfigError, type Config } from './config.js';
import { loggerOptions } from './http/redact.js';
import { startConfiguredMetricsServer } from './metrics/server.js';
import { startBackgroundWork, startJobs } from './workers.js';

/**
 * `npm start` / `nexus serve`: migrate, make sure an admin token exists, serve, run the jobs. With
 * NEXUS_PROCESSES above 1 this process starts that many API processes instead (src/cluster.ts),
 * each of which comes back here as a cluster worker and serves as one process.
 */
export async function serve(config: Config): Promise<void> {
  if (cluster.isPrimary && config.processes > 1) return serveCluster(config);
  const log = pino(loggerOptions(config.logLevel));
  const runtime = await openRuntime(config, undefined, { metrics: true });
  // In a cluster the primary did it once for every process.
  if (cluster.isPrimary) await bootstrapAdminToken(runtime, log);
  const { metrics } = runtime;
  const app = await buildApp({ db: runtime.db, clock: runtime.clock, config, services: runtime.services, secretBox: runtime.secretBox, logger: log, metrics });
  // Before the API listens: a metrics port already taken stops the start with nothing half-served.
  const metricsServer = await startConfiguredMetricsServer(metrics, config.metrics, log);
  if (metricsServer) log.info({ host: config.metrics.host, port: metricsServer.port }, 'serving /metrics');
  await app.listen({ host: config.host, port: config.port });
  log.info({ database: runtime.location, dialect: runtime.dialect, url: config.publicUrl }, 'NexusCore is serving');
  // Load the search indexes now, in the background, so the first search does not pay for it;
  // then keep them following the writes, so a search does not pay for those either.
  const warmStart = performance.now();
  const { search } = runtime.services;
  let closing = false;
  let stopFollowing = async () => {};
  search
    .warmUp()
    .then((loaded) => loaded && log.info({ ms: Math.round(performance.now() - warmStart), ...search.indexStats() }, 'search indexes warmed up'))
    .catch((err: unknown) => log.error({ err }, 'search warm-up failed; the first search loads the indexes'))
    .finally(() => {
      if (closing) return;
      // In every serving process, workers or not: each has indexes of its own.
      stopFollowing = startJobs([search.followJob()], log);
    });
  const stopBackgroundWork = config.runWorkers ? await startBackgroundWork(runtime, log) : async () => {};

  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down: finishing in-flight requests');
    const force = setTimeout(() => {
      log.error('shutdown took over 20 s; exiting');
      process.exit(1);
    }, 20_000);
    force.unref();
    await app.close(); // stops accepting, waits for in-flight requests
    await metricsServer?.close();
    await stopBackgroundWork();
    await stopFollowing();
    await runtime.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

export function exitOnConfigError(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
