import type { Db } from '../db/schema.js';
import type { Clock } from '../shared/clock.js';
import { type CounterDelta, type CounterTotal, addCounts, addCountsReturningTotals, deleteExpiredCounts, readCounts } from './rate-limit-store.js';

/** A quota: at most `limit` units per `windowMs` for each key (a token, an address). */
export interface RateLimitPolicy {
  /** The policy's name in the RateLimit-Policy and RateLimit headers. */
  name: string;
  limit: number;
  windowMs: number;
}

/** The outcome of one check against one policy, with what the response headers report. */
export interface RateLimitDecision {
  policy: RateLimitPolicy;
  allowed: boolean;
  /** Units left in the window (the header's `r`). */
  remaining: number;
  /** Seconds until the window ends, or until a refused caller may retry (the header's `t`). */
  resetSeconds: number;
}

/**
 * One bucket (policy + key). A sliding-window counter built from two fixed windows: the estimate
 * is `previous × (share of the previous window still inside the sliding window) + current`. Fixed
 * windows are what several processes can add up in one table row each.
 */
interface Counter {
  bucket: string;
  policy: RateLimitPolicy;
  /** Start (epoch ms) of the current fixed window. */
  window: number;
  /** Known total of the current window: every process's count at the last sync, plus ours since. */
  current: number;
  previous: number;
  /** Our own units in `window` that the database has not seen yet. */
  pending: number;
}

interface Logger {
  warn(obj: object, msg: string): void;
}

const SWEEP_EVERY_MS = 60_000;
const WARN_EVERY_MS = 60_000;

/**
 * Counts requests in process memory, so a request costs a few map operations and never a
 * database write. Every `syncIntervalMs` each process adds its new counts to `rate_limit_counters`
 * in one statement and reads back the totals of the buckets it used, so processes on one
 * database converge on one limit within a sync interval. Failures (see `recordFailure`) are
 * written through at once, since they are rare and their limit must be tight.
 *
 * The database is an aid, never a dependency: when it fails, each process goes on enforcing the
 * limits with its own counts and logs a warning (fail open across processes, never a 500).
 */
export function createRateLimiter(deps: { db: Db; clock: Clock; syncIntervalMs: number; log: Logger }) {
  const { db, clock, log } = deps;
  const counters = new Map<string, Counter>();
  /** Counters with pending units. */
  const dirty = new Set<Counter>();
  /** Pending units of windows that ended before a sync wrote them, by bucket and window. */
  const orphans = new Map<string, CounterDelta>();
  /** Failures waiting for the next write-through, which takes every failure of one event-loop turn. */
  let failures: { c: Counter; window: number; done: () => void }[] = [];
  /** Buckets whose failures were written through since the last sync: read back with the others. */
  const writtenThrough = new Set<string>();
  let syncing: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastSweep = 0;
  let lastWarning = -Infinity;
  let suppressedWarnings = 0;

  function warn(err: unknown, msg: string): void {
    const now = performance.now();
    if (now - lastWarning < WARN_EVERY_MS) {
      suppressedWarnings++;
      return;
    }
    lastWarning = now;
    log.warn({ err, suppressed: suppressedWarnings }, msg);
    suppressedWarnings = 0;
  }

  function addOrphan(c: Counter, window: number, count: number): void {
    const id = `${c.bucket}\0${window}`;
    const seen = orphans.get(id);
    if (seen) seen.count += count;
    else orphans.set(id, { bucket: c.bucket, windowStart: window, count, expiresAt: window + 2 * c.policy.windowMs });
  }

  /** Moves the counter to the fixed window that holds `now`. */
  function roll(c: Counter, now: number): void {
    const w = c.policy.windowMs;
    const window = now - (now % w);
    if (window === c.window) return;
    if (c.pending > 0) {
      addOrphan(c, c.window, c.pending);
      c.pending = 0;
    }
    c.previous = window - c.window === w ? c.current : 0;
    c.current = 0;
    c.window = window;
  }

  function counterFor(policy: RateLimitPolicy, key: string, now: number): Counter {
    const bucket = `${policy.name}:${key}`;
    let c = counters.get(bucket);
    if (!c) {
      c = { bucket, policy, window: now - (now % policy.windowMs), current: 0, previous: 0, pending: 0 };
      counters.set(bucket, c);
    } else {
      roll(c, now);
    }
    return c;
  }

  function estimate(c: Counter, now: number): number {
    return c.previous * (1 - (now - c.window) / c.policy.windowMs) + c.current;
  }

  /** Seconds until the estimate leaves room for one more unit, if nothing else is counted meanwhile. */
  function retryAfterSeconds(c: Counter, now: number): number {
    const { limit, windowMs: w } = c.policy;
    const need = limit - 1;
    const elapsed = (now - c.window) / w;
    let waitMs: number;
    if (c.current <= need) {
      // The previous window's weight decays through this one: p × (1 − x) + c ≤ need.
      const x = c.previous > 0 ? 1 - (need - c.current) / c.previous : elapsed;
      waitMs = Math.max(0, x - elapsed) * w;
    } else {
      // Only the next window, as this one's weight decays, brings the estimate down: c × (1 − g) ≤ need.
      waitMs = (1 - elapsed) * w + (1 - need / c.current) * w;
    }
    return Math.max(1, Math.ceil(waitMs / 1000));
  }

  function decide(c: Counter, now: number, allowed: boolean): RateLimitDecision {
    const left = c.policy.limit - estimate(c, now);
    if (allowed && left >= 1) {
      return { policy: c.policy, allowed, remaining: Math.floor(left), resetSeconds: Math.max(1, Math.ceil((c.window + c.policy.windowMs - now) / 1000)) };
    }
    // Nothing left: `t` is when a unit frees up, so it never points before Retry-After.
    return { policy: c.policy, allowed, remaining: allowed ? Math.max(0, Math.floor(left)) : 0, resetSeconds: retryAfterSeconds(c, now) };
  }

  /** Raises counters to the totals the database reports (which include every process's flushed units). */
  function applyTotals(totals: CounterTotal[]): void {
    for (const t of totals) {
      const c = counters.get(t.bucket);
      if (!c) continue;
      if (t.windowStart === c.window) c.current = Math.max(c.current, t.count + c.pending);
      else if (t.windowStart === c.window - c.policy.windowMs) {
        c.previous = Math.max(c.previous, t.count + (orphans.get(`${t.bucket}\0${t.windowStart}`)?.count ?? 0));
      }
    }
  }

  /**
   * One statement for all the failures that arrived in one turn of the event loop: a flood of
   * failures from many addresses costs one commit per turn, not one per failure.
   */
  async function writeFailures(): Promise<void> {
    const batch = failures;
    failures = [];
    const deltas = new Map<string, CounterDelta>();
    for (const { c, window } of batch) {
      writtenThrough.add(c.bucket);
      const id = `${c.bucket}\0${window}`;
      const seen = deltas.get(id);
      if (seen) seen.count += 1;
      else deltas.set(id, { bucket: c.bucket, windowStart: window, count: 1, expiresAt: window + 2 * c.policy.windowMs });
    }
    try {
      applyTotals(await addCountsReturningTotals(db, [...deltas.values()]));
    } catch (err) {
      for (const { c, window } of batch) {
        if (c.window === window) {
          c.pending += 1;
          dirty.add(c);
        } else {
          addOrphan(c, window, 1);
        }
      }
      warn(err, 'rate limits: could not write failed attempts to the database; counting them in this process');
    }
    for (const f of batch) f.done();
  }

  function add(c: Counter, units: number): void {
    c.current += units;
    c.pending += units;
    dirty.add(c);
  }

  async function runSync(): Promise<void> {
    const now = clock.now().getTime();
    // Forget the buckets with nothing left in either window, so memory follows current traffic.
    for (const [bucket, c] of counters) {
      roll(c, now);
      if (c.current === 0 && c.previous === 0) counters.delete(bucket);
    }
    // Only the buckets used here since the last sync are read back: that bounds the work by this
    // process's traffic, not by how many keys it remembers. An idle bucket learns the other
    // processes' counts at the first sync after its next use.
    // Take the pending units now: requests counted while the statement runs go to the next sync.
    const deltas = new Map<string, CounterDelta>();
    for (const [id, d] of orphans) if (d.expiresAt > now) deltas.set(id, d);
    orphans.clear();
    for (const c of dirty) {
      if (c.pending === 0) continue;
      const id = `${c.bucket}\0${c.window}`;
      const seen = deltas.get(id);
      if (seen) seen.count += c.pending;
      else deltas.set(id, { bucket: c.bucket, windowStart: c.window, count: c.pending, expiresAt: c.window + 2 * c.policy.windowMs });
      c.pending = 0;
    }
    dirty.clear();
    try {
      await addCounts(db, [...deltas.values()]);
    } catch (err) {
      // Kept for the next sync, so a busy database delays the other processes' view but loses nothing.
      for (const [id, d] of deltas) {
        const seen = orphans.get(id);
        if (seen) seen.count += d.count;
        else orphans.set(id, d);
      }
      warn(err, 'rate limits: could not write counts to the database; each process enforces its own counts until it can');
      return;
    }

    const used = [...new Set([...writtenThrough, ...[...deltas.values()].map((d) => d.bucket)])];
    writtenThrough.clear();
    if (used.length > 0) {
      try {
        applyTotals(await readCounts(db, used, now));
      } catch (err) {
        warn(err, "rate limits: could not read the other processes' counts; each process enforces its own counts until it can");
      }
    }

    if (now - lastSweep >= SWEEP_EVERY_MS) {
      lastSweep = now;
      try {
        await deleteExpiredCounts(db, now);
      } catch (err) {
        warn(err, 'rate limits: could not delete expired counts');
      }
    }
  }

  const limiter = {
    /** Counts one unit for `key` if the policy has room for it; a refused request is not counted. */
    consume(policy: RateLimitPolicy, key: string): RateLimitDecision {
      const now = clock.now().getTime();
      const c = counterFor(policy, key, now);
      if (estimate(c, now) + 1 > policy.limit) return decide(c, now, false);
      add(c, 1);
      return decide(c, now, true);
    },

    /** Counts one unit whatever the limit says (for a request already answered). */
    count(policy: RateLimitPolicy, key: string): RateLimitDecision {
      const now = clock.now().getTime();
      const c = counterFor(policy, key, now);
      add(c, 1);
      return decide(c, now, true);
    },

    /**
     * Whether `key` has room for one more unit, without counting anything. Returns undefined when
     * the key has nothing counted at all: the common case, answered without allocating.
     */
    check(policy: RateLimitPolicy, key: string): RateLimitDecision | undefined {
      const c = counters.get(`${policy.name}:${key}`);
      if (!c) return undefined;
      const now = clock.now().getTime();
      roll(c, now);
      return decide(c, now, estimate(c, now) + 1 <= policy.limit);
    },

    /**
     * Counts one failure and writes it through (with the other failures of this event-loop turn),
     * reading back the total of every process, so a guesser spread over several processes is
     * stopped after the limit plus about one attempt per process. Never throws: when the database
     * fails, the failure is kept for the next sync.
     */
    async recordFailure(policy: RateLimitPolicy, key: string): Promise<RateLimitDecision> {
      const now = clock.now().getTime();
      const c = counterFor(policy, key, now);
      c.current += 1;
      await new Promise<void>((done) => {
        if (failures.length === 0) setImmediate(() => void writeFailures());
        failures.push({ c, window: c.window, done });
      });
      return decide(c, clock.now().getTime(), true);
    },

    /**
     * Writes this process's new counts and reads back every process's totals. Runs on a timer;
     * tests call it to make processes agree now. Never throws.
     */
    async sync(): Promise<void> {
      while (syncing) await syncing;
      syncing = runSync()
        .catch((err: unknown) => warn(err, 'rate limits: sync failed'))
        .finally(() => {
          syncing = undefined;
        });
      await syncing;
    },

    start(): void {
      if (timer) return;
      timer = setInterval(() => {
        if (!syncing) void limiter.sync();
      }, deps.syncIntervalMs);
      timer.unref();
    },

    /** Stops the timer and writes what is pending, so a restart loses no counts. */
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await limiter.sync();
    },
  };
  return limiter;
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
