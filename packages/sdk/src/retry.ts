/** How the client retries a request the server turned away for now (429 rate_limited, 503 unavailable). */
export interface RetryOptions {
  /** Retries after the first attempt; 0 never retries. Default 3. */
  maxRetries?: number;
  /** Without `Retry-After`, the first wait is up to this long, doubling each time (with full jitter). Default 500 ms. */
  baseDelayMs?: number;
  /**
   * The longest the client waits before one retry. A `Retry-After` asking for more is not waited
   * for: the 429 or 503 is returned (and thrown by the helpers) at once. Default 60 s.
   */
  maxDelayMs?: number;
}

/** What `fetch` is to the client: it is handed the Request openapi-fetch built. */
export type FetchLike = (request: Request) => Promise<Response>;

const RETRIED_STATUSES = new Set([429, 503]);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Wraps `fetch` with what every NexusCore call should have:
 * - an `Idempotency-Key` on every POST that has none (a random UUID), so a retry, by this wrapper
 *   or by the caller with the same key, can never create a second ticket or message;
 * - retries of 429 and 503, after `Retry-After` (seconds or an HTTP date) when the server sends it,
 *   else after an exponential backoff with jitter. Both statuses mean the request did not run, so
 *   every method is retried, and a POST keeps its key across attempts.
 */
export function createRetryingFetch(base: FetchLike, options: RetryOptions = {}, wait: (ms: number) => Promise<void> = sleep): FetchLike {
  const maxRetries = options.maxRetries ?? 3;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 60_000;
  return async (original) => {
    let request = original;
    if (request.method === 'POST' && !request.headers.has('idempotency-key')) {
      const headers = new Headers(request.headers);
      headers.set('Idempotency-Key', crypto.randomUUID());
      request = new Request(request, { headers });
    }
    for (let retry = 0; ; retry++) {
      // A clone per attempt: a body can be read once, and the original must stay readable for the next.
      const response = await base(retry < maxRetries ? request.clone() : request);
      if (!RETRIED_STATUSES.has(response.status) || retry >= maxRetries) return response;
      const delay = retryDelayMs(response.headers.get('retry-after'), retry, baseDelayMs, maxDelayMs);
      if (delay > maxDelayMs) return response;
      await response.body?.cancel();
      await wait(delay);
    }
  };
}

/**
 * How long to wait before retry number `retry` (from 0): what `Retry-After` says (delay-seconds or
 * an HTTP date), else a random time up to `baseDelayMs * 2^retry`, capped at `maxDelayMs`.
 */
export function retryDelayMs(retryAfter: string | null, retry: number, baseDelayMs: number, maxDelayMs: number, now = Date.now()): number {
  if (retryAfter !== null) {
    const text = retryAfter.trim();
    if (/^\d+$/.test(text)) return Number(text) * 1000;
    const at = Date.parse(text);
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  return Math.round(Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** retry));
}
