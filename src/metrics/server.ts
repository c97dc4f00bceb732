import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { MetricsConfig } from '../config.js';
import { metricsTokenChecker } from './http.js';
import type { Metrics } from './metrics.js';

export interface MetricsServer {
  /** The port it listens on (the configured one, or the one the system chose for 0). */
  port: number;
  close(): Promise<void>;
}

/**
 * `/metrics` on a listener of its own (NEXUS_METRICS_PORT, on NEXUS_METRICS_HOST, 127.0.0.1 by
 * default): for the API process when the metrics should stay off the public listener, and for
 * `nexus worker`, which has no other. It answers GET and HEAD /metrics, nothing else, and asks for
 * the metrics token only when one is set.
 */
export async function startMetricsServer(
  metrics: Metrics,
  config: Pick<MetricsConfig, 'token' | 'host'> & { port: number },
  log: Pick<Logger, 'error'>,
): Promise<MetricsServer> {
  const authorized = config.token === undefined ? () => true : metricsTokenChecker(config.token);
  const server = http.createServer((req, res) => {
    const answer = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if ((req.url ?? '').split('?', 1)[0] !== '/metrics') return answer(404, 'Not found: only /metrics is served here\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(405, 'Method not allowed\n', { Allow: 'GET, HEAD' });
    if (!authorized(req.headers.authorization))
      return answer(401, 'Send the metrics token as a bearer token\n', { 'WWW-Authenticate': 'Bearer realm="nexuscore-metrics"' });
    metrics.scrape().then(
      (text) => answer(200, text, { 'Content-Type': metrics.contentType }),
      (err: unknown) => {
        log.error({ err }, 'metrics scrape failed');
        answer(500, 'The metrics could not be collected\n');
      },
    );
  });
  // A scraper sends a small request and waits for the answer: nothing here needs long timeouts.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The metrics listener of NEXUS_METRICS_PORT, when the process collects metrics and one is set. */
export async function startConfiguredMetricsServer(
  metrics: Metrics | undefined,
  config: MetricsConfig,
  log: Pick<Logger, 'error'>,
): Promise<MetricsServer | undefined> {
  if (!metrics || config.port === undefined) return undefined;
  return startMetricsServer(metrics, { ...config, port: config.port }, log);
}
