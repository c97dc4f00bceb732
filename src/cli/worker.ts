import pino from 'pino';
import { openRuntime } from '../bootstrap.js';
import type { Config } from '../config.js';
import { loggerOptions } from '../http/redact.js';
import { startConfiguredMetricsServer } from '../metrics/server.js';
import { startBackgroundWork } from '../workers.js';

/** `nexus worker`: the background jobs and webhook delivery without the HTTP server; several may share one database. */
export async function runWorker(config: Config): Promise<void> {
  const log = pino(loggerOptions(config.logLevel));
  const runtime = await openRuntime(config, undefined, { metrics: config.metrics.port !== undefined });
  const stopBackgroundWork = await startBackgroundWork(runtime, log);
  // A worker has no other listener: its metrics are served only with NEXUS_METRICS_PORT.
  const metricsServer = await startConfiguredMetricsServer(runtime.metrics, config.metrics, log);
  log.info({ database: runtime.location, ...(metricsServer ? { metrics_port: metricsServer.port } : {}) }, 'NexusCore worker running');
  const shutdown = async () => {
    await metricsServer?.close();
    await stopBackgroundWork();
    await runtime.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
}
