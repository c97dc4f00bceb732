import pino from 'pino';
import { openRuntime } from '../bootstrap.js';
import type { Config } from '../config.js';
import { dispatchWakeups } from '../events/signal.js';
import { loggerOptions } from '../http/redact.js';
import { startMetricsServer } from '../metrics/server.js';
import { startWebhookDispatcher } from '../webhooks/dispatcher.js';
import { backgroundJobs, startJobs } from '../workers.js';

/** `nexus worker`: the background jobs and webhook delivery without the HTTP server; several may share one database. */
export async function runWorker(config: Config): Promise<void> {
  const log = pino(loggerOptions(config.logLevel));
  const runtime = await openRuntime(config, undefined, { metrics: config.metrics.port !== undefined });
  const { metrics } = runtime;
  const stopJobs = startJobs(backgroundJobs(runtime), log);
  const dispatcher = startWebhookDispatcher({
    db: runtime.db,
    clock: runtime.clock,
    secretBox: runtime.secretBox,
    config,
    log,
    observer: metrics?.deliveries,
    wakeups: dispatchWakeups({ dialect: runtime.dialect, databaseUrl: config.databaseUrl, log }),
  });
  // A worker has no other listener: its metrics are served only with NEXUS_METRICS_PORT.
  const metricsServer =
    metrics && config.metrics.port !== undefined ? await startMetricsServer(metrics, { ...config.metrics, port: config.metrics.port }, log) : undefined;
  log.info({ database: runtime.location, ...(metricsServer ? { metrics_port: metricsServer.port } : {}) }, 'NexusCore worker running');
  const shutdown = async () => {
    await metricsServer?.close();
    await dispatcher.stop();
    await stopJobs();
    await runtime.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
}
