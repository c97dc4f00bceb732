/** When a failed delivery is tried again, and when an endpoint has failed for long enough. */

/** ±20 %: spreads the retries of many deliveries that failed together (an endpoint's outage). */
export const JITTER = 0.2;
/** An endpoint that has failed every attempt for this long is disabled. */
export const DISABLE_AFTER_FAILING_MS = 5 * 24 * 60 * 60 * 1000;
/** A Retry-After longer than this is capped: the endpoint still gets its event within a day. */
export const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

/**
 * The delay before the next attempt after `attemptsMade` attempts have failed, or undefined when
 * the schedule is spent and the delivery has failed for good. `retryAfterMs` (from a 429 or 503)
 * replaces the scheduled delay, without jitter, as the endpoint asked.
 */
export function nextRetryDelay(
  attemptsMade: number,
  scheduleMs: readonly number[],
  options: { retryAfterMs?: number | undefined; random?: () => number } = {},
): number | undefined {
  const base = scheduleMs[attemptsMade - 1];
  if (base === undefined) return undefined;
  if (options.retryAfterMs !== undefined) return Math.min(options.retryAfterMs, MAX_RETRY_AFTER_MS);
  const random = options.random ?? Math.random;
  return Math.max(0, Math.round(base * (1 + JITTER * (2 * random() - 1))));
}

/** Retry-After as delta-seconds or an HTTP date, in milliseconds from `now`; undefined if absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: Date): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now.getTime());
}
