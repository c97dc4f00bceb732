import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { AppError } from './problem.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route streams a large body (attachment uploads): instead of the whole-request deadline,
     * the body must keep moving (no pause over the idle timeout, a minimum average rate).
     */
    streamingBody?: boolean;
  }
}

/** How long a client may take; see docs/api.md ("Timeouts"). */
export interface HttpTimeouts {
  /** The request line and headers must arrive within this (Node's `headersTimeout`). */
  headersTimeoutMs: number;
  /** The whole body of an ordinary request must arrive within this, counted from the headers. */
  requestTimeoutMs: number;
  /** No byte in either direction for this long closes the connection: within a request or between two. */
  idleTimeoutMs: number;
  /** A streaming upload must average at least this many bytes per second over every idle-timeout window. */
  uploadMinBytesPerSecond: number;
}

const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n));

/**
 * Server options for Fastify: Node checks the headers deadline (and writes through
 * clientErrorHandler), Fastify's connectionTimeout is the socket's idle timer, keepAliveTimeout the
 * idle time between two requests. Node's own whole-request timeout stays off: it cannot tell an
 * upload from a JSON body, and the watchdog below can.
 */
export function timeoutServerOptions(t: HttpTimeouts): Pick<FastifyServerOptions, 'connectionTimeout' | 'keepAliveTimeout' | 'requestTimeout'> & {
  http: { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number };
} {
  return {
    connectionTimeout: t.idleTimeoutMs,
    keepAliveTimeout: t.idleTimeoutMs,
    requestTimeout: 0,
    http: {
      headersTimeout: t.headersTimeoutMs,
      requestTimeout: 0,
      // Node checks header deadlines on this period (30 s by default): a quarter of the deadline.
      connectionsCheckingInterval: clamp(Math.floor(t.headersTimeoutMs / 4), 25, 1000),
    },
  };
}

interface Watch {
  req: IncomingMessage;
  res: ServerResponse;
  socket: Socket;
  startedAt: number;
  windowStartedAt: number;
  bytesAtWindowStart: number;
  streaming: boolean;
  /** The body stream the route reads (see preParsing below), once the route has started reading. */
  body: PassThrough | undefined;
  /** Set when the limit passed before the route started reading the body. */
  expired: string | undefined;
}

/** How long a cut request may take to answer its 408 before its connection is closed regardless. */
const ANSWER_GRACE_MS = 5000;

/**
 * The body watchdog. Every request whose body has not fully arrived when its headers have is
 * watched until it has. An ordinary request gets `requestTimeoutMs` for its body; a streaming
 * upload gets as long as it keeps moving: in each window of `idleTimeoutMs` it must bring at least
 * `uploadMinBytesPerSecond` per second (so a 25 MiB upload at the 4 KiB/s default is allowed at
 * most ~1.8 h, and one at 1 Mbit/s takes 3.5 min). The socket's idle timer (no byte at all for
 * `idleTimeoutMs`) ends a request the same way.
 *
 * A request over its limit fails the body stream its route reads with a 408 AppError, so the
 * route's own error path runs (an upload releases its claim) and the one error handler answers
 * with a problem and `Connection: close`. When a response has already started, or nothing reads
 * the body, the connection is closed.
 */
export function registerTimeouts(app: FastifyInstance, t: HttpTimeouts): void {
  const watching = new Set<Watch>();
  const byRequest = new WeakMap<IncomingMessage, Watch>();
  const current = new WeakMap<Socket, { req: IncomingMessage; res: ServerResponse }>();

  // Prepended, so it runs before Fastify's handler: the watch exists before any hook looks for it.
  app.server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    current.set(req.socket, { req, res });
    if (req.complete) return;
    const now = performance.now();
    const watch: Watch = {
      req,
      res,
      socket: req.socket,
      startedAt: now,
      windowStartedAt: now,
      bytesAtWindowStart: req.socket.bytesRead,
      streaming: false,
      body: undefined,
      expired: undefined,
    };
    watching.add(watch);
    byRequest.set(req, watch);
  });

  const timeoutError = (detail: string) => new AppError('request_timeout', detail, { headers: { Connection: 'close' } });

  app.addHook('onRequest', async (request) => {
    const watch = byRequest.get(request.raw);
    if (watch) watch.streaming = request.routeOptions.config?.streamingBody === true;
  });

  // The route reads the body through a stream the watchdog can fail without touching the socket,
  // which must stay open for the 408.
  app.addHook('preParsing', async (request, _reply, payload) => {
    const watch = byRequest.get(request.raw);
    if (!watch || request.raw.complete) return payload;
    if (watch.expired) throw timeoutError(watch.expired);
    const body = new PassThrough();
    payload.on('error', (err) => body.destroy(err));
    payload.pipe(body);
    watch.body = body;
    return body;
  });

  function cut(watch: Watch, detail: string): void {
    watching.delete(watch);
    const { req, res, socket } = watch;
    app.log.info({ method: req.method, url: req.url, remoteAddress: socket.remoteAddress }, `request cut: ${detail}`);
    if (res.headersSent || res.writableEnded) {
      // Answered already (say a 401 before the body); the rest of the body is only being discarded.
      socket.destroy();
      return;
    }
    if (watch.body) watch.body.destroy(timeoutError(detail));
    else watch.expired = detail;
    // Node closes the connection once the 408 (Connection: close) is written; this bounds the wait.
    setTimeout(() => socket.destroy(), ANSWER_GRACE_MS).unref();
  }

  const sweep = setInterval(
    () => {
      const now = performance.now();
      for (const watch of watching) {
        if (watch.req.complete || watch.socket.destroyed) {
          watching.delete(watch);
          continue;
        }
        if (!watch.streaming) {
          if (now - watch.startedAt >= t.requestTimeoutMs) cut(watch, `The request body did not arrive within ${t.requestTimeoutMs} ms`);
          continue;
        }
        const elapsed = now - watch.windowStartedAt;
        if (elapsed < t.idleTimeoutMs) continue;
        const received = watch.socket.bytesRead - watch.bytesAtWindowStart;
        if (received < (t.uploadMinBytesPerSecond * elapsed) / 1000) {
          cut(watch, `The upload slowed below ${t.uploadMinBytesPerSecond} bytes per second (${received} bytes in ${Math.round(elapsed)} ms)`);
        } else {
          watch.windowStartedAt = now;
          watch.bytesAtWindowStart = watch.socket.bytesRead;
        }
      }
    },
    clamp(Math.floor(Math.min(t.requestTimeoutMs, t.idleTimeoutMs) / 4), 25, 1000),
  );
  sweep.unref();
  app.addHook('onClose', async () => clearInterval(sweep));

  // With a listener here Node no longer destroys idle sockets itself: every branch must decide.
  app.server.on('timeout', (socket: Socket) => {
    const active = current.get(socket);
    if (!active || active.res.writableFinished) return socket.destroy(); // idle between requests
    const watch = byRequest.get(active.req);
    if (!active.req.complete && watch && watching.has(watch)) return cut(watch, `No data arrived for ${t.idleTimeoutMs} ms`);
    if (!active.req.complete) return socket.destroy();
    // The request is in; the server is still working on the answer: not the client's fault.
    if (!active.res.headersSent) return;
    socket.destroy(); // the client stopped reading the response
  });
}
