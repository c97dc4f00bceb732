import { randomUUID } from 'node:crypto';
import { type ServerResponse, STATUS_CODES, maxHeaderSize } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorCode, errorCatalogue, problemBody, toAppError } from './problem.js';

/**
 * Errors the framework answers outside the request lifecycle, each turned into a problem from
 * the catalogue: requests Node's HTTP parser could not finish (framing, header size, header
 * timeout), URLs the router could not read, `Expect` headers, and requests that arrive while
 * the server shuts down. The one error handler in problem.ts covers everything else.
 */

const PROBLEM_TYPE = 'application/problem+json; charset=utf-8';

/** What to tell a client whose request the parser refused, by Node's / llhttp's error code. */
function describeParserError(err: NodeJS.ErrnoException & { reason?: unknown }, headersTimeoutMs: number): { code: ErrorCode; detail: string } {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { code: 'request_timeout', detail: `The request line and headers did not arrive within ${headersTimeoutMs} ms` };
    case 'HPE_HEADER_OVERFLOW':
      return { code: 'headers_too_large', detail: `The request line and headers exceed ${maxHeaderSize} bytes` };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { code: 'payload_too_large', detail: 'The chunk extensions of the body are too large' };
  }
  // llhttp's reasons are fixed sentences ("Invalid character in chunk size"), never client data.
  const reason = typeof err.reason === 'string' && /^[\w\s'.,:-]{1,120}$/.test(err.reason) ? err.reason : (err.code ?? 'unparseable request');
  return { code: 'malformed_request', detail: `The request is not valid HTTP/1.1 (${reason}); the connection is closed` };
}

/** A complete HTTP/1.1 response carrying a problem, for sockets no ServerResponse can write to. */
export function rawProblemResponse(code: ErrorCode, detail: string): string {
  const { status, title } = errorCatalogue[code];
  const requestId = `req_${randomUUID()}`;
  const body = JSON.stringify({ type: `/problems#${code}`, title, status, detail, code, request_id: requestId });
  return [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? title}`,
    `Content-Type: ${PROBLEM_TYPE}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    `X-Request-Id: ${requestId}`,
    `Date: ${new Date().toUTCString()}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

/** Writes a problem through a ServerResponse that has not started, then lets Node close the connection. */
export function endWithProblem(res: ServerResponse, code: ErrorCode, detail: string, requestId: string, instance?: string): void {
  const { status, title } = errorCatalogue[code];
  const body = JSON.stringify({ type: `/problems#${code}`, title, status, detail, code, ...(instance ? { instance } : {}), request_id: requestId });
  res.writeHead(status, { 'Content-Type': PROBLEM_TYPE, 'Content-Length': Buffer.byteLength(body), 'X-Request-Id': requestId, Connection: 'close' });
  res.end(body);
}

/** How long an answered bad connection may stay open for the client to read the answer. */
const LINGER_MS = 2000;

/** The in-flight response on a socket, as Node tracks it, to avoid writing into the middle of one. */
const inFlightResponse = (socket: Socket) => (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined;

/**
 * Fastify's `clientErrorHandler`: Node's parser gave up on this connection (CL with TE, bad chunk
 * size, duplicate Content-Length, header overflow, a garbage request line, headers too slow).
 * Answers once with a raw problem and `Connection: close`, unless the socket can no longer be
 * written to or a response is already under way on it; then closes the connection.
 */
export function createClientErrorHandler(headersTimeoutMs: number) {
  const answered = new WeakSet<Socket>();
  // Fastify calls it bound to the instance, whose logger it uses.
  return function clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
    if (answered.has(socket)) return;
    answered.add(socket);
    if (err.code === 'ECONNRESET' || socket.destroyed) {
      socket.destroy();
      return;
    }
    const { code, detail } = describeParserError(err, headersTimeoutMs);
    this.log.info({ code: err.code, remoteAddress: socket.remoteAddress }, 'client error: request not parsed');
    if (socket.writable && !inFlightResponse(socket)?.headersSent) {
      socket.end(rawProblemResponse(code, detail));
      // Closing at once with unread input would reset the connection before the client reads the
      // answer; the client normally closes first, this only bounds how long it may take.
      setTimeout(() => socket.destroy(), LINGER_MS).unref();
    } else {
      socket.destroy();
    }
  };
}

/**
 * Fastify's `frameworkErrors`: the router could not decode the URL (FST_ERR_BAD_URL) or a path
 * parameter is over the length limit (FST_ERR_MAX_PARAM_LENGTH). No route, and so no hooks, ran.
 */
export function frameworkErrors(error: Error, request: FastifyRequest, reply: FastifyReply): void {
  const problem = toAppError(error, request);
  if (problem.code === 'internal_error') request.log.error({ err: error }, 'framework error');
  void reply
    .code(problem.status)
    .header('Content-Type', PROBLEM_TYPE)
    .header('X-Request-Id', request.id)
    .send(JSON.stringify(problemBody(request, problem.code, problem.message)));
}

/**
 * Answers what Node and Fastify would otherwise answer on their own, without a problem body:
 * an HTTP/1.1 request without Host (Node's bare 400), an `Expect` other than 100-continue (a bare
 * 417), CONNECT (a silent close) and requests that arrive while the server shuts down (Fastify's
 * JSON 503; `return503OnClosing` must be false for the hook below to see them).
 */
export function registerClientErrors(app: FastifyInstance): void {
  const server = app.server as FastifyInstance['server'] & { requireHostHeader?: boolean };
  // Node reads this per request; the hook below gives the same refusal as a problem.
  server.requireHostHeader = false;

  server.on('checkExpectation', (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    endWithProblem(res, 'expectation_failed', 'Only "Expect: 100-continue" is supported', `req_${randomUUID()}`, path);
  });

  server.on('connect', (_req, socket: Socket) => {
    socket.on('error', () => socket.destroy());
    if (socket.writable) socket.end(rawProblemResponse('bad_request', 'CONNECT is not supported: this server is not a proxy'));
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  });

  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', (request, _reply, done) => {
    if (closing) {
      return done(
        new AppError('unavailable', 'The server is shutting down; retry the request on a new connection', {
          headers: { 'Retry-After': '1', Connection: 'close' },
        }),
      );
    }
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      return done(new AppError('bad_request', 'An HTTP/1.1 request needs a Host header', { headers: { Connection: 'close' } }));
    }
    done();
  });
}
