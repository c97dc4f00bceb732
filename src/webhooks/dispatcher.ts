import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Transaction } from 'kysely';
import type { Database, Db, WebhookEndpointRow } from '../db/schema.js';
import { eventPayloadText } from '../events/payload.js';
import { type DispatchWakeups, inProcessWakeups } from '../events/signal.js';
import { type Clock, toTimestamp } from '../shared/clock.js';
import { newId } from '../shared/ids.js';
import type { SecretBox } from '../shared/secret-box.js';
import type { BackgroundJob } from '../shared/background-job.js';
import { endpointMatches, liveSecrets, newDeliveryRow, preciseInstant } from './model.js';
import { DISABLE_AFTER_FAILING_MS, nextRetryDelay, parseRetryAfter } from './retry-policy.js';
import { type AttemptOutcome, createSender } from './sender.js';
import { signatureHeader } from './signing.js';
import { type Resolve, systemResolve } from './ssrf-guard.js';
import * as store from './store.js';

export interface DispatcherOptions {
  /** Names this worker's claims; unique per process by default. */
  workerId?: string;
  clock?: Clock;
  retryScheduleMs?: readonly number[];
  allowPrivate?: boolean;
  /** Name resolution for the SSRF guard; tests inject one. */
  resolve?: Resolve;
  /** How often to look for work when nothing signalled any (other processes' commits, due retries). */
  pollIntervalMs?: number;
  /** A 2xx must arrive within this. */
  attemptTimeoutMs?: number;
  /** How long a claim holds; must exceed attemptTimeoutMs. A dead worker's claims lapse after it. */
  leaseMs?: number;
  /** Requests in flight at once, overall and to any one endpoint. */
  maxConcurrency?: number;
  perEndpointConcurrency?: number;
  random?: () => number;
}

type Log = Pick<Logger, 'error' | 'warn' | 'info'>;

/** What a dispatcher works with, and nothing more: it never sees the rest of a runtime. */
export interface DispatcherDeps {
  db: Db;
  clock: Clock;
  /** Opens the endpoints' sealed signing secrets: the deployment's one box. */
  secretBox: SecretBox;
  /** The defaults of `DispatcherOptions.retryScheduleMs` and `allowPrivate`. */
  config: Pick<Config, 'webhookRetryScheduleMs' | 'webhookAllowPrivate'>;
  log: Log;
  /** Told of every attempt, for metrics; none means nobody listens. */
  observer?: DeliveryObserver | undefined;
  /** What wakes it besides its poll (`dispatchWakeups`); by default the in-process nudge of this process's commits. */
  wakeups?: DispatchWakeups;
}

/** Receives what each delivery attempt came to (src/metrics/ counts them). Must not throw. */
export interface DeliveryObserver {
  /** An attempt's HTTP exchange finished (before it is recorded): when it started, and when its event was written. */
  attempted(attempt: { outcome: AttemptOutcome; sentAt: Date; eventCreatedAt: string }): void;
}

export interface WebhookDispatcher {
  /** Starts polling and listening for commits. */
  start(): void;
  /** Looks for work now (after a commit, a retry request, an endpoint re-enabled). */
  wake(): void;
  /** Fans out and sends until nothing is due now and nothing is in flight; for tests and benches. */
  drain(): Promise<void>;
  /** Stops claiming; waits a little for requests in flight, then aborts them (their claims lapse or are retried). */
  stop(options?: { graceMs?: number }): Promise<void>;
}

const FAN_OUT_BATCH = 500;
/**
 * Events unmarked a transaction when no endpoint is enabled: unread, they cost a row deleted each,
 * and every transaction is a commit (an fsync on SQLite, on the event loop): a million imported
 * events take 500 commits instead of 2,000. Not more: a transaction holds the loop, and 10,000 rows
 * held it 40-70 ms at a time (the first seconds after a start on imported tickets, with requests
 * waiting behind each); 2,000 take ~10 ms with the commit.
 */
const DISCARD_BATCH = 2_000;
/**
 * Commits arrive hundreds a second under load, and each cycle is a fan-out transaction and a claim
 * query whatever it finds: a commit's wake runs at once after a quiet spell, otherwise with the
 * other commits of the next few milliseconds in one cycle (measured: the dispatcher took 5 % of a
 * ticket create's CPU woken per commit).
 */
const COMMIT_WAKE_SPACING_MS = 10;

/**
 * The webhook dispatcher. Two stages, both safe to run in several workers over one database:
 *
 * 1. Fan-out: events marked in event_dispatch_queue (written with the event, in its transaction)
 *    become one delivery per matching endpoint, and lose their mark, in one transaction. The
 *    (endpoint, event) unique key makes a repeated fan-out harmless.
 * 2. Delivery: due deliveries are claimed with a lease (`locked_by`, `locked_until`), sent, and the
 *    attempt recorded with the next attempt time. A worker that dies mid-send loses nothing: its
 *    lease lapses and another claim sends again (at-least-once, same webhook-id).
 *
 * Concurrency is bounded overall and per endpoint, and an endpoint at its bound is left out of the
 * next claim, so a slow or dead endpoint holds only its own slots and never delays the others.
 */
export function createWebhookDispatcher(deps: DispatcherDeps, options: DispatcherOptions = {}): WebhookDispatcher {
  const { db, log } = deps;
  const clock = options.clock ?? deps.clock;
  const workerId = options.workerId ?? `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const retrySchedule = options.retryScheduleMs ?? deps.config.webhookRetryScheduleMs;
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 15_000;
  const leaseMs = options.leaseMs ?? Math.max(60_000, attemptTimeoutMs * 2);
  const maxConcurrency = options.maxConcurrency ?? 64;
  const perEndpoint = options.perEndpointConcurrency ?? 4;
  const random = options.random ?? Math.random;
  const { secretBox } = deps;
  const sender = createSender({
    allowPrivate: options.allowPrivate ?? deps.config.webhookAllowPrivate,
    resolve: options.resolve ?? systemResolve,
    maxSockets: perEndpoint,
  });

  const inflight = new Set<Promise<void>>();
  const inflightByEndpoint = new Map<string, number>();
  let started = false;
  let stopped = false;
  let running: Promise<void> | null = null;
  let again = false;
  let timer: NodeJS.Timeout | null = null;
  let commitTimer: NodeJS.Timeout | null = null;
  let lastCycleAt = -Infinity;
  let unsubscribe: (() => Promise<void>) | null = null;
  let claims = 0;
  // Fan-out runs when a commit signalled events or the poll fires, not after every finished send.
  let fanOutDue = true;

  /**
   * Batches of FAN_OUT_BATCH events (DISCARD_BATCH when no endpoint is enabled), each in its own
   * transaction, with a turn of the event loop between them: on SQLite every statement resolves
   * without waiting for I/O, so a backlog (the events of a million tickets a bulk import wrote
   * without a dispatcher running) would otherwise be worked through before any request is read:
   * measured, the first /healthz 200 after a start on a million imported tickets came 16 s late.
   */
  async function fanOut(): Promise<void> {
    for (;;) {
      // Whether the batch was full: more may be waiting.
      const full = await db.transaction().execute(async (trx) => {
        const endpoints = await store.listEnabledEndpoints(trx);
        // No endpoint is enabled: none is owed these events (a later one receives only later events).
        if (endpoints.length === 0) return (await store.discardUndispatchedEvents(trx, DISCARD_BATCH)) === DISCARD_BATCH;
        const events = await store.listUndispatchedEvents(trx, FAN_OUT_BATCH);
        if (events.length === 0) return false;
        const at = preciseInstant(clock.now());
        const rows = [];
        for (const event of events) {
          for (const endpoint of endpoints) {
            // An endpoint receives the events that happen once it exists, not history.
            if (endpoint.created_at > event.created_at || !endpointMatches(endpoint, event)) continue;
            rows.push(newDeliveryRow(endpoint.id, event, at));
          }
        }
        await store.insertDeliveries(trx, rows);
        await store.markEventsDispatched(
          trx,
          events.map((e) => e.id),
        );
        return events.length === FAN_OUT_BATCH;
      });
      if (!full || stopped) return;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Claims what is due within the free slots and starts sending it; returns how many it started. */
  async function claimAndSend(): Promise<number> {
    const free = maxConcurrency - inflight.size;
    if (free <= 0) return 0;
    const now = clock.now();
    const nowText = preciseInstant(now);
    const busy = [...inflightByEndpoint].filter(([, n]) => n >= perEndpoint).map(([id]) => id);
    const choose = (due: store.DueDelivery[]): string[] => {
      const chosen: string[] = [];
      const planned = new Map<string, number>();
      for (const d of due) {
        const n = (inflightByEndpoint.get(d.endpoint_id) ?? 0) + (planned.get(d.endpoint_id) ?? 0);
        if (n >= perEndpoint) continue;
        planned.set(d.endpoint_id, (planned.get(d.endpoint_id) ?? 0) + 1);
        chosen.push(d.id);
        if (chosen.length === free) break;
      }
      return chosen;
    };
    const claimed = await store.claimDueDeliveries(db, {
      now: nowText,
      excludeEndpoints: busy,
      limit: free * 2,
      choose,
      // Unique per claim, so that this claim reads back only the rows it took.
      workerId: `${workerId}#${++claims}`,
      leaseUntil: preciseInstant(new Date(now.getTime() + leaseMs)),
    });
    if (claimed.length === 0) return 0;
    const endpoints = new Map((await store.findEndpoints(db, [...new Set(claimed.map((c) => c.delivery.endpoint_id))])).map((e) => [e.id, e]));
    for (const c of claimed) {
      const endpoint = endpoints.get(c.delivery.endpoint_id);
      if (!endpoint) continue;
      inflightByEndpoint.set(endpoint.id, (inflightByEndpoint.get(endpoint.id) ?? 0) + 1);
      const p: Promise<void> = attempt(endpoint, c)
        .catch((err: unknown) => log.error({ err, delivery_id: c.delivery.id }, 'webhook attempt could not be recorded'))
        .finally(() => {
          inflight.delete(p);
          const left = (inflightByEndpoint.get(endpoint.id) ?? 1) - 1;
          if (left > 0) inflightByEndpoint.set(endpoint.id, left);
          else inflightByEndpoint.delete(endpoint.id);
          wake();
        });
      inflight.add(p);
    }
    return claimed.length;
  }

  async function attempt(endpoint: WebhookEndpointRow, claimed: store.ClaimedDelivery): Promise<void> {
    const { delivery, event } = claimed;
    const body = eventPayloadText(event);
    const sentAt = clock.now();
    const timestamp = Math.floor(sentAt.getTime() / 1000);
    const outcome = await sender.send({
      url: endpoint.url,
      body,
      timeoutMs: attemptTimeoutMs,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'NexusCore-Webhooks/1',
        'webhook-id': event.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signatureHeader(
          liveSecrets(endpoint, sentAt).map((s) => secretBox.open(s)),
          event.id,
          timestamp,
          body,
        ),
      },
    });
    deps.observer?.attempted({ outcome, sentAt, eventCreatedAt: event.created_at });
    await record(endpoint.id, delivery, outcome, sentAt);
  }

  interface Finished {
    endpointId: string;
    delivery: store.ClaimedDelivery['delivery'];
    outcome: AttemptOutcome;
    sentAt: Date;
    done: (err?: unknown) => void;
  }
  const finished: Finished[] = [];
  let flushing = false;

  /**
   * Records an attempt and what follows from it. Attempts that finish together are recorded in one
   * transaction: one commit (one fsync on SQLite) for many deliveries.
   */
  function record(endpointId: string, delivery: Finished['delivery'], outcome: AttemptOutcome, sentAt: Date): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      finished.push({ endpointId, delivery, outcome, sentAt, done: (err) => (err === undefined ? resolve() : reject(err)) });
      if (!flushing) void flush();
    });
  }

  async function flush(): Promise<void> {
    flushing = true;
    try {
      while (finished.length) {
        const batch = finished.splice(0);
        const logs: (() => void)[] = [];
        try {
          await db.transaction().execute(async (trx) => {
            for (const item of batch) {
              const log = await recordOne(trx, item);
              if (log) logs.push(log);
            }
          });
          for (const item of batch) item.done();
          for (const l of logs) l();
        } catch (err) {
          for (const item of batch) item.done(err);
        }
      }
    } finally {
      flushing = false;
    }
  }

  async function recordOne(trx: Transaction<Database>, item: Finished): Promise<(() => void) | undefined> {
    const { delivery, outcome, sentAt } = item;
    // Read inside the transaction: another attempt of the same batch may have changed it.
    const endpoint = await store.findEndpoint(trx, item.endpointId);
    if (!endpoint) return undefined; // deleted meanwhile, with its deliveries
    const now = clock.now();
    const at = preciseInstant(now);
    const attemptNo = delivery.attempt_count + 1;
    const status = outcome.statusCode;
    const ok = status !== null && status >= 200 && status < 300;
    const gone = status === 410;
    let next: string | null = null;
    if (!ok && !gone) {
      const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(outcome.retryAfter, now) : undefined;
      const delay = nextRetryDelay(attemptNo, retrySchedule, { retryAfterMs, random });
      if (delay !== undefined) next = preciseInstant(new Date(now.getTime() + delay));
    }
    const failingSince = ok ? null : (endpoint.failing_since ?? preciseInstant(sentAt));
    const failingTooLong = !ok && now.getTime() - Date.parse(failingSince!) >= DISABLE_AFTER_FAILING_MS;
    const disable = gone ? 'gone' : failingTooLong && endpoint.enabled === 1 ? 'failing' : null;

    const updated = await store.updateDelivery(trx, delivery.id, {
      status: ok ? 'succeeded' : next ? 'pending' : 'failed',
      attempt_count: attemptNo,
      next_attempt_at: next,
      last_attempt_at: preciseInstant(sentAt),
      locked_by: null,
      locked_until: null,
      updated_at: at,
    });
    if (updated === 0) return undefined;
    await store.insertAttempt(trx, {
      id: newId('atm', now.getTime()),
      delivery_id: delivery.id,
      attempt: attemptNo,
      attempted_at: preciseInstant(sentAt),
      duration_ms: outcome.durationMs,
      status_code: status,
      error: outcome.error,
      response_body: outcome.responseBody,
      next_attempt_at: next,
    });
    if (disable) {
      await store.updateEndpoint(trx, endpoint.id, { enabled: 0, disabled_reason: disable, failing_since: failingSince, updated_at: toTimestamp(now) });
    } else if (failingSince !== endpoint.failing_since) {
      await store.updateEndpoint(trx, endpoint.id, { failing_since: failingSince });
    }
    if (ok) return undefined;
    return () => {
      log.warn(
        {
          webhook_id: endpoint.id,
          delivery_id: delivery.id,
          event_id: delivery.event_id,
          attempt: attemptNo,
          status_code: status,
          error: outcome.error,
          next_attempt_at: next,
        },
        'webhook attempt failed',
      );
      if (disable) log.warn({ webhook_id: endpoint.id, reason: disable }, 'webhook endpoint disabled');
    };
  }

  /** When the next pending delivery falls due, if sooner than the poll. */
  async function msUntilNextDue(): Promise<number> {
    const nextAt = await store.nextPendingAttemptAt(db);
    const next = nextAt ? Date.parse(nextAt) - clock.now().getTime() : pollIntervalMs;
    return Math.max(0, Math.min(pollIntervalMs, next));
  }

  async function cycle(): Promise<void> {
    do {
      again = false;
      if (fanOutDue) {
        fanOutDue = false;
        await fanOut();
      }
      const launched = await claimAndSend();
      if (launched > 0 && inflight.size < maxConcurrency) again = true;
    } while (again && !stopped);
  }

  function scheduleWake(ms: number): void {
    if (stopped || !started) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      fanOutDue = true;
      wake();
    }, ms);
  }

  function wake(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    lastCycleAt = performance.now();
    running = (async () => {
      try {
        await cycle();
      } catch (err) {
        log.error({ err }, 'webhook dispatcher cycle failed');
      }
      let wait = pollIntervalMs;
      try {
        if (!stopped) wait = await msUntilNextDue();
      } catch {
        // the poll covers it
      }
      running = null;
      if (again) wake();
      else scheduleWake(Math.max(wait, 5));
    })();
  }

  function wakeForCommit(): void {
    fanOutDue = true;
    const since = performance.now() - lastCycleAt;
    if (since >= COMMIT_WAKE_SPACING_MS) {
      setImmediate(wake);
      return;
    }
    commitTimer ??= setTimeout(() => {
      commitTimer = null;
      wake();
    }, COMMIT_WAKE_SPACING_MS - since);
  }

  return {
    start() {
      if (started) return;
      started = true;
      unsubscribe = (deps.wakeups ?? inProcessWakeups)(wakeForCommit);
      wake();
    },
    wake,
    async drain() {
      for (;;) {
        if (running) await running;
        fanOutDue = true;
        wake();
        if (running) await running;
        if (inflight.size === 0) {
          const due = await store.listDueDeliveries(db, { now: preciseInstant(clock.now()), excludeEndpoints: [], limit: 1 });
          if (due.length === 0 && !(await store.hasUndispatchedEvents(db))) return;
        } else {
          await Promise.race(inflight);
        }
      }
    },
    async stop(opts = {}) {
      stopped = true;
      await unsubscribe?.();
      if (timer) clearTimeout(timer);
      if (commitTimer) clearTimeout(commitTimer);
      if (running) await running;
      if (inflight.size) {
        const grace = opts.graceMs ?? 5000;
        let t: NodeJS.Timeout | undefined;
        await Promise.race([Promise.allSettled([...inflight]), new Promise((r) => (t = setTimeout(r, grace)))]);
        clearTimeout(t);
      }
      sender.close();
      await Promise.allSettled([...inflight]);
    },
  };
}

/**
 * Creates and starts a dispatcher: what `npm start` runs beside the server, and `nexus worker`
 * alone. Several may share one database.
 */
export function startWebhookDispatcher(deps: DispatcherDeps, options: DispatcherOptions = {}): WebhookDispatcher {
  const dispatcher = createWebhookDispatcher(deps, options);
  dispatcher.start();
  return dispatcher;
}

/** How long finished deliveries (and their attempts) stay in the log. */
export const DELIVERY_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

/** The periodic webhook housekeeping, for the background job list. */
export function webhookJobs(deps: { db: Db; clock: Clock }): BackgroundJob[] {
  const { db, clock } = deps;
  return [
    {
      name: 'webhook-delivery-purge',
      everyMs: 3_600_000,
      run: () => store.purgeFinishedDeliveries(db, preciseInstant(new Date(clock.now().getTime() - DELIVERY_RETENTION_MS))),
    },
  ];
}
