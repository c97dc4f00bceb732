import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { type Resolve, guardedLookup, hostOf, isForbiddenAddress } from './ssrf-guard.js';

/** What one HTTP attempt came to: a status, or a network error; never both missing. */
export interface AttemptOutcome {
  statusCode: number | null;
  error: string | null;
  /** The first kilobyte of the response body. */
  responseBody: string | null;
  durationMs: number;
  retryAfter: string | null;
}

export interface SendRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

export const RESPONSE_BODY_LIMIT = 1024;
/** Past this much response body the connection is dropped instead of drained for reuse. */
const DRAIN_LIMIT = 256 * 1024;

function describeError(err: NodeJS.ErrnoException): string {
  if (err.code === 'EDESTINATIONREFUSED') return err.message;
  if (err.code === 'ETIMEDOUT_WEBHOOK') return err.message;
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'DNS lookup failed',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    CERT_HAS_EXPIRED: 'TLS certificate expired',
    DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate is self-signed',
    ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate does not match the host',
  };
  const what = err.code ? known[err.code] : undefined;
  return what ? `${what} (${err.code})` : `network error: ${err.code ?? err.message}`;
}

/**
 * POSTs one webhook. Never follows redirects (a 3xx is a failed attempt), gives up after
 * `timeoutMs` for the whole exchange, and connects only to addresses the SSRF guard accepts
 * unless `allowPrivate`. Resolves, never rejects.
 */
export function createSender(options: { allowPrivate: boolean; resolve: Resolve; maxSockets: number }) {
  const lookup = guardedLookup(options.resolve, options.allowPrivate);
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: options.maxSockets, lookup } as http.AgentOptions),
    'https:': new https.Agent({ keepAlive: true, maxSockets: options.maxSockets, lookup } as https.AgentOptions),
  };

  function send(request: SendRequest): Promise<AttemptOutcome> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const fail = (error: string): AttemptOutcome => ({ statusCode: null, error, responseBody: null, durationMs: elapsed(), retryAfter: null });
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return Promise.resolve(fail('invalid URL'));
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return Promise.resolve(fail('only http and https URLs are delivered to'));
    // An IP literal is connected to without a lookup, so it is checked here.
    const host = hostOf(url);
    if (!options.allowPrivate && net.isIP(host) && isForbiddenAddress(host)) {
      return Promise.resolve(fail(`destination refused: ${host} is a non-public address`));
    }
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise<AttemptOutcome>((resolve) => {
      let settled = false;
      const chunks: Buffer[] = [];
      let kept = 0;
      let seen = 0;
      let statusCode: number | null = null;
      let retryAfter: string | null = null;
      const finish = (error: string | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({
          statusCode,
          error: statusCode === null ? (error ?? 'no response') : null,
          responseBody: statusCode === null ? null : Buffer.concat(chunks).toString('utf8'),
          durationMs: elapsed(),
          retryAfter,
        });
      };
      const req = lib.request(url, {
        method: 'POST',
        agent: agents[url.protocol as 'http:' | 'https:'],
        headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
      });
      const timer = setTimeout(() => {
        const err: NodeJS.ErrnoException = new Error(`timed out after ${request.timeoutMs} ms`);
        err.code = 'ETIMEDOUT_WEBHOOK';
        if (statusCode === null) req.destroy(err);
        else {
          req.destroy();
          finish(null);
        }
      }, request.timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => finish(describeError(err)));
      req.on('response', (res) => {
        statusCode = res.statusCode ?? null;
        const ra = res.headers['retry-after'];
        retryAfter = typeof ra === 'string' ? ra : null;
        res.on('data', (chunk: Buffer) => {
          seen += chunk.length;
          if (kept < RESPONSE_BODY_LIMIT) {
            const part = chunk.subarray(0, RESPONSE_BODY_LIMIT - kept);
            chunks.push(part);
            kept += part.length;
          }
          if (seen > DRAIN_LIMIT) {
            res.destroy();
            finish(null);
          }
        });
        res.on('end', () => finish(null));
        res.on('error', () => finish(null));
        res.on('close', () => finish(null));
      });
      req.end(request.body);
    });
  }

  return {
    send,
    /** Drops pooled connections; in-flight requests end on their own timeout or are destroyed here. */
    close(): void {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}

export type Sender = ReturnType<typeof createSender>;
