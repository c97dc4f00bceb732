import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { MetricsConfig } from '../config.js';
import { AppError } from '../http/problem.js';
import type { HistogramSeries } from './histogram.js';
import type { SearchService } from '../search/service.js';
import type { Metrics } from './metrics.js';

/** The `route` label of a request no route matched (404, 405): one series, whatever the URL. */
export const UNMATCHED_ROUTE = 'unmatched';

const BEARER = /^Bearer\s+(\S+)\s*$/i;
const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * Whether an Authorization header carries the metrics token. Both sides are hashed first, so the
 * comparison takes the same time whatever the length or the first differing byte of a guess.
 */
export function metricsTokenChecker(token: string): (authorization: string | undefined) => boolean {
  const expected = digest(token);
  return (authorization) => {
    const match = authorization ? BEARER.exec(authorization) : null;
    return timingSafeEqual(digest(match?.[1] ?? ''), expected) && match !== null;
  };
}

/**
 * Request durations into `metrics`, and `GET /metrics` on this app when a metrics token is set.
 *
 * One observation per response, labelled by the route pattern (`/v1/tickets/:ticket_id`, never the
 * URL, so the series stay few). The series of each (route, method, status) is looked up in nested
 * maps keyed by values the request already holds: no string is built per request.
 */
export function registerMetrics(
  app: FastifyInstance,
  metrics: Metrics,
  options: Pick<MetricsConfig, 'token'> & { search: Pick<SearchService, 'indexLag'> },
): void {
  // The API process serves searches, so its in-process search indexes are the ones to watch.
  metrics.watchSearch(options.search);
  const byRoute = new Map<string, Map<string, Map<number, HistogramSeries>>>();
  function seriesOf(route: string, method: string, status: number): HistogramSeries {
    let byMethod = byRoute.get(route);
    if (!byMethod) byRoute.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (!series) byStatus.set(status, (series = metrics.httpRequests.seriesFor({ method, route, status: String(status) })));
    return series;
  }
  app.addHook('onResponse', (request, reply, done) => {
    seriesOf(request.routeOptions.url ?? UNMATCHED_ROUTE, request.method, reply.statusCode).observe(reply.elapsedTime / 1000);
    done();
  });

  if (options.token === undefined) return;
  const authorized = metricsTokenChecker(options.token);
  // Not part of the API (hidden from the OpenAPI document): its own credential, the metrics token,
  // checked here; for the API's token check it is public.
  app.get('/metrics', { config: { scope: 'public', brands: 'none' }, schema: { hide: true } }, async (request, reply) => {
    if (!authorized(request.headers.authorization)) {
      throw new AppError('unauthorized', 'Send the metrics token (NEXUS_METRICS_TOKEN) as a bearer token', {
        headers: { 'WWW-Authenticate': 'Bearer realm="nexuscore-metrics"' },
      });
    }
    const text = await metrics.scrape();
    return reply.type(metrics.contentType).header('Cache-Control', 'no-store').send(text);
  });
}
