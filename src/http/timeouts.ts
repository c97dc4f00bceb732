import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import { AppError } from './problem.js';
import { addRouteHook } from './route-hooks.js';

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
  /** The body stream a streaming route reads (see preParsing below), once it has started reading. */
  body: PassThrough | undefined;
  /** Set when the limit passed before the route started reading the body. */
  expired: string | undefined;
}

/** Where a socket keeps the response of the request it carries now (the last one it brought). */
const CURRENT_RESPONSE = Symbol('currentResponse');
type SocketWithResponse = Socket & { [CURRENT_RESPONSE]?: ServerResponse };

const hasBody = (req: IncomingMessage): boolean => {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
};

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
 * with a problem and `Connection: close`. When a response has already started the connection is
 * closed; so is any connection whose answer has not come ANSWER_GRACE_MS after the cut.
 */
export function registerTimeouts(app: FastifyInstance, t: HttpTimeouts): void {
  const watching = new Set<Watch>();
  const byRequest = new WeakMap<IncomingMessage, Watch>();

  // Prepended, so it runs before Fastify's handler: the watch exists before any hook looks for it.
  app.server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    (req.socket as SocketWithResponse)[CURRENT_RESPONSE] = res;
    // A request without a body (no Content-Length, or 0, and no Transfer-Encoding: most GETs) is
    // complete with its headers, although Node marks it so only after this event: nothing to watch.
    if (req.complete || !hasBody(req)) return;
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

  // Only streaming routes say so; every other request's watch stays `streaming: false`.
  app.addHook('onRoute', (route) => {
    if (route.config?.streamingBody !== true) return;
    addRouteHook(route, 'onRequest', (request: FastifyRequest, _reply: FastifyReply, done: () => void) => {
      const watch = byRequest.get(request.raw);
      if (watch) watch.streaming = true;
      done();
    });
  });

  // A callback-style hook: it runs on every request, and costs less than an async one.
  // A streaming route reads its body through a stream the watchdog can fail without touching the
  // socket, which must stay open for the 408. Other routes' bodies are read by Fastify's parser
  // straight from the request (a stream per request would cost ~10% of a small POST).
  app.addHook('preParsing', (request, _reply, payload, done) => {
    const watch = byRequest.get(request.raw);
    if (!watch) return done(null, payload);
    if (watch.expired) return done(timeoutError(watch.expired));
    if (request.raw.complete || !watch.streaming) return done(null, payload);
    const body = new PassThrough();
    // The route reads errors through its iterator; this listener is for when nobody is reading
    // (before the upload starts, or after it refused the rest of the body): an 'error' event with
    // no listener would take the whole process down.
    body.on('error', () => {});
    payload.on('error', (err) => body.destroy(err));
    payload.pipe(body);
    watch.body = body;
    done(null, body);
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
    // Whatever answers now, and however, ends the connection: the rest of the body is not wanted.
    res.setHeader('Connection', 'close');
    const error = timeoutError(detail);
    if (watch.body) {
      watch.body.destroy(error);
    } else if (req.listenerCount('error') > 0) {
      // Fastify's body parser listens for errors on the request itself: it gives up and the
      // error handler answers. Destroying the request instead would close the socket unanswered.
      req.emit('error', error);
    } else {
      // Nothing reads the body yet (hooks still running): preParsing refuses the request.
      watch.expired = detail;
    }
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
    const res = (socket as SocketWithResponse)[CURRENT_RESPONSE];
    if (!res || res.writableFinished) return socket.destroy(); // idle between requests
    const { req } = res;
    const watch = byRequest.get(req);
    if (!req.complete && watch && watching.has(watch)) return cut(watch, `No data arrived for ${t.idleTimeoutMs} ms`);
    if (!req.complete) return socket.destroy();
    // The request is in; the server is still working on the answer: not the client's fault.
    if (!res.headersSent) return;
    socket.destroy(); // the client stopped reading the response
  });
}
