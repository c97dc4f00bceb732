/**
 * The process's Prometheus metrics (docs/operations.md, "What to watch"): one registry per runtime,
 * made only when something can read it (`metricsEnabled`). What is measured on a hot path (each
 * request, each query) goes to a FastHistogram; what is rare (a webhook attempt) to prom-client's
 * own types; what describes the database (backlogs, index lag) is read at the scrape.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { QueryDurationSink } from '../db/query-timing.js';
import type { Db } from '../db/schema.js';
import type { GroupCommitStats } from '../db/transactions.js';
import { dispatchBacklog } from '../events/store.js';
import type { Clock } from '../shared/clock.js';
import type { SearchService } from '../search/service.js';
import type { DeliveryObserver } from '../webhooks/dispatcher.js';
import { preciseInstant } from '../webhooks/model.js';
import { dueBacklog } from '../webhooks/store.js';
import { FastHistogram } from './histogram.js';

/** Seconds. The API answers most reads in about a millisecond; a slow search or upload in seconds. */
const HTTP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds. Primary-key reads take tens of microseconds on SQLite; a wait for a connection can take seconds. */
const QUERY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];
/** Seconds, up to the attempt timeout (15 s). */
const ATTEMPT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15];
/** Seconds from an event to its delivery: immediate, or after retries (minutes to hours). */
const DELIVERY_LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600];

/** Backlog counts stop here, so that a scrape in the middle of an incident stays as cheap as any other. */
export const BACKLOG_COUNT_CAP = 100_000;

/** How a webhook attempt ended, as the `outcome` label says it. */
export type AttemptOutcomeLabel = 'success' | 'redirect' | 'client_error' | 'server_error' | 'no_response';

export function attemptOutcomeLabel(statusCode: number | null): AttemptOutcomeLabel {
  if (statusCode === null) return 'no_response';
  if (statusCode >= 200 && statusCode < 300) return 'success';
  if (statusCode >= 500) return 'server_error';
  if (statusCode >= 400) return 'client_error';
  return 'redirect';
}

export type HttpLabel = 'method' | 'route' | 'status';

/** Where the gauges read at a scrape come from. */
export interface BacklogSources {
  db: Db;
  clock: Clock;
}

export interface Metrics {
  readonly registry: Registry;
  /** Request durations, by route pattern, method and status (src/metrics/http.ts observes them). */
  readonly httpRequests: FastHistogram<HttpLabel>;
  /** Where the database sends query durations (src/db/query-timing.ts). */
  readonly queryDurations: QueryDurationSink;
  /** What the webhook dispatcher tells of each attempt. */
  readonly deliveries: DeliveryObserver;
  /** Adds the outbox and webhook backlog gauges, read from the database at each scrape. */
  watchBacklogs(sources: BacklogSources): void;
  /** Adds the counters of the process's group commit (src/db/transactions.ts), read at each scrape. */
  watchWrites(stats: () => GroupCommitStats): void;
  /** Adds the search index gauges: for processes that serve searches (the API). */
  watchSearch(search: Pick<SearchService, 'indexLag'>): void;
  /** The Prometheus text exposition of everything above, and the process metrics. */
  scrape(): Promise<string>;
  readonly contentType: string;
}

/**
 * Shares one read among the gauges of one scrape: prom-client collects every metric at once, so
 * the gauges that show parts of one query's answer ask while it runs and get the same answer.
 */
function perScrape<T>(read: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | null = null;
  return () => (running ??= read().finally(() => (running = null)));
}

const ageSeconds = (clock: Clock, instant: string | undefined): number => (instant ? Math.max(0, (clock.now().getTime() - Date.parse(instant)) / 1000) : 0);

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const httpRequests = new FastHistogram<HttpLabel>(
    'nexus_http_request_duration_seconds',
    'Time to answer an HTTP request, from its arrival to the last byte sent, by route pattern, method and status.',
    ['method', 'route', 'status'],
    HTTP_BUCKETS,
  ).register(registry);

  const queries = new FastHistogram<'kind' | 'table'>(
    'nexus_db_query_duration_seconds',
    'Time from issuing a database query to its result (a wait for a connection included), by statement kind and first table.',
    ['kind', 'table'],
    QUERY_BUCKETS,
  ).register(registry);

  const attempts = new Counter({
    name: 'nexus_webhook_attempts_total',
    help: 'Webhook delivery attempts, by outcome: success (2xx), redirect, client_error (4xx), server_error (5xx), no_response (timeout, refused, unreachable).',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const attemptDuration = new Histogram({
    name: 'nexus_webhook_attempt_duration_seconds',
    help: 'Time a webhook endpoint took to answer one delivery attempt, by outcome.',
    labelNames: ['outcome'],
    buckets: ATTEMPT_BUCKETS,
    registers: [registry],
  });
  const deliveryLatency = new Histogram({
    name: 'nexus_webhook_delivery_latency_seconds',
    help: 'Time from an event being written to its successful delivery to one endpoint, retries included.',
    buckets: DELIVERY_LATENCY_BUCKETS,
    registers: [registry],
  });
  const sourceErrors = new Counter({
    name: 'nexus_metrics_source_errors_total',
    help: 'Scrapes in which a gauge could not be read (its samples are then left out), by source.',
    labelNames: ['source'],
    registers: [registry],
  });

  /** A gauge whose value is read at each scrape; when the read fails the gauge has no sample, and the failure is counted. */
  function scrapedGauge<L extends string>(options: {
    name: string;
    help: string;
    labelNames?: L[];
    source: string;
    read: (gauge: Gauge<L>) => Promise<void>;
  }): void {
    new Gauge<L>({
      name: options.name,
      help: options.help,
      labelNames: options.labelNames ?? [],
      registers: [registry],
      async collect() {
        try {
          await options.read(this);
        } catch {
          this.reset();
          sourceErrors.inc({ source: options.source });
        }
      },
    });
  }

  return {
    registry,
    httpRequests,
    queryDurations: (kind, table) => {
      const series = queries.seriesFor({ kind, table });
      return (seconds) => series.observe(seconds);
    },
    deliveries: {
      attempted({ outcome, sentAt, eventCreatedAt }) {
        const label = attemptOutcomeLabel(outcome.statusCode);
        attempts.inc({ outcome: label });
        attemptDuration.observe({ outcome: label }, outcome.durationMs / 1000);
        if (label === 'success') {
          deliveryLatency.observe(Math.max(0, (sentAt.getTime() + outcome.durationMs - Date.parse(eventCreatedAt)) / 1000));
        }
      },
    },

    watchBacklogs({ db, clock }) {
      const outbox = perScrape(() => dispatchBacklog(db, BACKLOG_COUNT_CAP));
      scrapedGauge({
        name: 'nexus_outbox_backlog_events',
        help: `Events written and not yet fanned out into webhook deliveries (counted up to ${BACKLOG_COUNT_CAP}).`,
        source: 'outbox',
        read: async (g) => g.set((await outbox()).events),
      });
      scrapedGauge({
        name: 'nexus_outbox_oldest_event_age_seconds',
        help: 'Age of the oldest event waiting for fan-out; 0 when none waits.',
        source: 'outbox',
        read: async (g) => g.set(ageSeconds(clock, (await outbox()).oldestCreatedAt)),
      });
      const webhooks = perScrape(() => dueBacklog(db, { now: preciseInstant(clock.now()), cap: BACKLOG_COUNT_CAP }));
      scrapedGauge({
        name: 'nexus_webhook_backlog_deliveries',
        help: `Webhook deliveries due to enabled endpoints and not yet made, in flight included (counted up to ${BACKLOG_COUNT_CAP}).`,
        source: 'webhooks',
        read: async (g) => g.set((await webhooks()).deliveries),
      });
      scrapedGauge({
        name: 'nexus_webhook_oldest_due_delivery_age_seconds',
        help: 'How long the most overdue webhook delivery to an enabled endpoint has been due; 0 when none is.',
        source: 'webhooks',
        read: async (g) => g.set(ageSeconds(clock, (await webhooks()).oldestDueAt)),
      });
    },

    watchWrites(stats) {
      // Counters kept by the group commit itself (plain numbers on its hot path), copied at each scrape.
      const counters: [string, string, (s: GroupCommitStats) => number][] = [
        [
          'nexus_db_write_commits_total',
          'Write transactions committed by this process (each one fsync on SQLite), every batch of concurrent writes being one.',
          (s) => s.commits,
        ],
        [
          'nexus_db_write_units_total',
          'Writes (one request’s change, mostly) run in those transactions; divided by the commits, the batch size.',
          (s) => s.units,
        ],
        [
          'nexus_db_write_batches_rerun_total',
          'Batches rolled back and run again, each write in a savepoint, because one of them failed after writing (SQLite; see docs/architecture.md, group commit).',
          (s) => s.rerunWithSavepoints,
        ],
      ];
      for (const [name, help, read] of counters) {
        new Counter({
          name,
          help,
          registers: [registry],
          collect() {
            this.reset();
            this.inc(read(stats()));
          },
        });
      }
    },

    watchSearch(search) {
      const lag = perScrape(() => search.indexLag());
      const indexes = ['keyword', 'vector', 'filter'] as const;
      scrapedGauge({
        name: 'nexus_search_index_lag_changes',
        help: 'Changes to the search tables this process’s in-process index has not applied yet (all of them before its first load); a serving process catches up every second, and any search first.',
        labelNames: ['index'],
        source: 'search',
        read: async (g) => {
          const l = await lag();
          for (const index of indexes) g.set({ index }, l[index].behind);
        },
      });
      scrapedGauge({
        name: 'nexus_search_index_load_seconds',
        help: 'How long the last load of an in-process search index from empty took (at warm-up, or after the embedder changed).',
        labelNames: ['index'],
        source: 'search',
        read: async (g) => {
          const l = await lag();
          g.reset();
          for (const index of indexes) {
            const ms = l[index].lastLoadMs;
            if (ms !== undefined) g.set({ index }, ms / 1000);
          }
        },
      });
      scrapedGauge({
        name: 'nexus_search_index_loads',
        help: 'Loads of an in-process search index from empty since the process started.',
        labelNames: ['index'],
        source: 'search',
        read: async (g) => {
          const l = await lag();
          for (const index of indexes) g.set({ index }, l[index].loads);
        },
      });
    },

    scrape: () => registry.metrics(),
    contentType: registry.contentType,
  };
}
