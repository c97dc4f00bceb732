import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { isDatabaseBusy, isDatabaseConnectionLost } from '../db/busy.js';
import { isUniqueViolation } from '../db/errors.js';
import { type RoutePattern, type RouteTable, createRouteTable, keepRouteTable } from './allow.js';

/**
 * The closed catalogue of error codes. Each code has one HTTP status and one title; the `detail`
 * of a problem says what went wrong this time.
 */
export const errorCatalogue = {
  bad_request: { status: 400, title: 'Bad request' },
  invalid_json: { status: 400, title: 'Malformed JSON body' },
  invalid_query: { status: 400, title: 'Invalid query parameter' },
  invalid_cursor: { status: 400, title: 'Invalid pagination cursor' },
  invalid_url: { status: 400, title: 'Malformed URL' },
  malformed_request: { status: 400, title: 'Malformed HTTP request' },
  unauthorized: { status: 401, title: 'Authentication required' },
  forbidden: { status: 403, title: 'Missing scope' },
  upload_url_invalid: { status: 403, title: 'Invalid upload URL' },
  download_url_invalid: { status: 403, title: 'Invalid download URL' },
  not_found: { status: 404, title: 'Resource not found' },
  route_not_found: { status: 404, title: 'Route not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  request_timeout: { status: 408, title: 'Request timeout' },
  conflict: { status: 409, title: 'Conflict' },
  idempotency_in_progress: { status: 409, title: 'A request with this Idempotency-Key is in progress' },
  upload_url_expired: { status: 410, title: 'Upload URL expired or used' },
  download_url_expired: { status: 410, title: 'Download URL expired' },
  precondition_failed: { status: 412, title: 'Precondition failed' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  uri_too_long: { status: 414, title: 'URI too long' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  expectation_failed: { status: 417, title: 'Expectation failed' },
  validation_failed: { status: 422, title: 'Validation failed' },
  idempotency_key_reused: { status: 422, title: 'Idempotency-Key reused with a different request' },
  rate_limited: { status: 429, title: 'Too many requests' },
  headers_too_large: { status: 431, title: 'Request header fields too large' },
  internal_error: { status: 500, title: 'Internal server error' },
  unavailable: { status: 503, title: 'Service unavailable' },
} as const;

export type ErrorCode = keyof typeof errorCatalogue;

export interface FieldError {
  /** RFC 6901 JSON pointer into the request body (or the query parameter's name for the query). */
  pointer: string;
  message: string;
}

/** The one error class of the API: services throw it, the one handler renders it. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;
  constructor(code: ErrorCode, detail: string, options: { errors?: FieldError[]; headers?: Record<string, string> } = {}) {
    super(detail);
    this.code = code;
    this.status = errorCatalogue[code].status;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }
}

export const notFound = (what: string, id: string): AppError => new AppError('not_found', `${what} ${id} was not found`);

export const validationError = (pointer: string, message: string): AppError =>
  new AppError('validation_failed', `${pointer} ${message}`, { errors: [{ pointer, message }] });

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'A URI reference naming the problem type; it resolves to its documentation.' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'Stable machine-readable code from the error catalogue.' }),
    instance: Type.Optional(Type.String()),
    request_id: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ pointer: Type.String(), message: Type.String() }))),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details' },
);

export function problemBody(request: FastifyRequest, code: ErrorCode, detail: string, errors?: FieldError[]) {
  const entry = errorCatalogue[code];
  return {
    type: `/problems#${code}`,
    title: entry.title,
    status: entry.status,
    detail,
    code,
    instance: request.url.split('?')[0],
    request_id: request.id,
    ...(errors ? { errors } : {}),
  };
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: AppError): FastifyReply {
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  return reply
    .status(error.status)
    .type('application/problem+json; charset=utf-8')
    .send(problemBody(request, error.code, error.message, error.errors));
}

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

function ajvToFieldErrors(validation: AjvError[], context: string | undefined): FieldError[] {
  const errors = validation.map((e) => {
    let pointer = e.instancePath;
    if (e.keyword === 'required') pointer += `/${String(e.params.missingProperty)}`;
    if (e.keyword === 'additionalProperties') pointer += `/${String(e.params.additionalProperty)}`;
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'additionalProperties') message = 'is not a known field';
    if (e.keyword === 'enum' && Array.isArray(e.params.allowedValues)) {
      message = `must be one of: ${(e.params.allowedValues as unknown[]).join(', ')}`;
    }
    // A query parameter is named whole: an error about the second of a repeated one is about it.
    if (context !== 'body') pointer = pointer.replace(/^\//, '').replace(/\/.*$/, '') || context || '';
    return { pointer: pointer || '/', message, keyword: e.keyword };
  });
  // A value that fits no branch of a union (say, an email or null) fails every branch at the same
  // pointer, then anyOf itself: say it once, as the alternatives.
  const unionPointers = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.pointer));
  const out: FieldError[] = [];
  for (const pointer of unionPointers) {
    const branches = [...new Set(errors.filter((e) => e.pointer === pointer && e.keyword !== 'anyOf').map((e) => e.message))];
    out.push({ pointer, message: branches.length ? branches.join(', or ') : 'matches none of the accepted forms' });
  }
  for (const e of errors) if (!unionPointers.has(e.pointer)) out.push({ pointer: e.pointer, message: e.message });
  return out;
}

/** The catalogue code for a status nothing more specific claimed; unknown 4xx collapse to 400. */
const codeForStatus: Partial<Record<number, ErrorCode>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  409: 'conflict',
  412: 'precondition_failed',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  417: 'expectation_failed',
  422: 'validation_failed',
  429: 'rate_limited',
  431: 'headers_too_large',
  503: 'unavailable',
};

/**
 * The problem for anything thrown while handling a request: our AppError as is, schema validation
 * as 422/400 with pointers, Fastify's own errors (FST_ERR_*) by code and then by status. Anything
 * else, and any 5xx, is an internal_error whose details stay in the log.
 */
export function toAppError(error: unknown, request?: FastifyRequest): AppError {
  if (error instanceof AppError) return error;
  const fe = error as Partial<FastifyError> & { validation?: AjvError[]; validationContext?: string; status?: number };
  if (fe.validation) {
    const errors = ajvToFieldErrors(fe.validation, fe.validationContext);
    const detail = errors.map((e) => `${e.pointer} ${e.message}`).join('; ');
    const code: ErrorCode = fe.validationContext === 'body' ? 'validation_failed' : 'invalid_query';
    return new AppError(code, detail, { errors });
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('invalid_json', 'The request body is not valid JSON');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large', 'The request body exceeds the size limit');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('unsupported_media_type', `Content-Type ${request?.headers['content-type'] ?? '(none)'} is not accepted here; send application/json`);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('bad_request', 'Content-Length does not match the body');
    case 'FST_ERR_BAD_URL':
      return new AppError('invalid_url', 'The request path is not a valid URL (malformed percent-encoding?)');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new AppError('uri_too_long', 'A path segment is longer than any resource id can be');
    case 'FST_ERR_NOT_FOUND':
      return new AppError('route_not_found', 'No such route');
    case 'FST_ERR_HANDLER_TIMEOUT':
      return new AppError('unavailable', 'The request took too long to handle; retry later');
  }
  const status = fe.statusCode ?? fe.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Parser errors from inside JSON.parse surface as 400 with a SyntaxError.
    return new AppError(codeForStatus[status] ?? 'bad_request', fe.message || 'The request could not be processed');
  }
  if (status === 503) return new AppError('unavailable', 'The service is unavailable; retry later');
  // A unique key the service did not expect to be raced for: still the client's conflict, not our 500.
  if (isUniqueViolation(error)) return new AppError('conflict', 'The request conflicts with a resource that was created or changed at the same time; retry');
  if (isDatabaseBusy(error)) return new AppError('unavailable', 'The database is busy; retry shortly', { headers: { 'Retry-After': '1' } });
  if (isDatabaseConnectionLost(error))
    return new AppError('unavailable', 'The connection to the database was lost; retry shortly', { headers: { 'Retry-After': '1' } });
  return new AppError('internal_error', 'An unexpected error occurred; it has been logged');
}

/** Maps anything thrown during a request to a problem response; 5xx details go to the log only. */
export function registerProblemHandlers(app: FastifyInstance, routes: RouteTable = createRouteTable()): void {
  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    const problem = toAppError(error, request);
    if (problem.code === 'internal_error' && !(error instanceof AppError)) request.log.error({ err: error }, 'unhandled error');
    else if (isDatabaseConnectionLost(error)) request.log.warn({ err: error }, 'the connection to the database was lost');
    return sendProblem(request, reply, problem);
  });

  // Every route's path and methods, so that a known path with the wrong method is a 405, not a 404.
  keepRouteTable(app, routes);
  app.addHook('onRoute', (route) => routes.add(route.url, [route.method].flat()));

  const notAllowed = (request: FastifyRequest, pattern: RoutePattern) => {
    const path = request.url.split('?')[0] ?? '';
    const allow = pattern.methods.join(', ');
    return new AppError('method_not_allowed', `${request.method} is not allowed on ${path}; use ${allow}`, { headers: { Allow: allow } });
  };

  // The router found a route for this method through a parameter (DELETE /v1/tokens/me reaching
  // /v1/tokens/:token_id), but the path belongs to a static route without that method.
  app.addHook('onRequest', (request, _reply, done) => {
    const matched = request.routeOptions.url;
    const owner = matched === undefined ? undefined : routes.ownerInstead(request.url, matched);
    done(owner ? notAllowed(request, owner) : undefined);
  });

  app.setNotFoundHandler((request, reply) => {
    const owner = routes.resolve(request.url);
    if (owner && !owner.methods.includes(request.method)) return sendProblem(request, reply, notAllowed(request, owner));
    const path = request.url.split('?')[0] ?? '';
    // A route that exists and passed the request on (a static file handler that has no such file).
    if (owner) return sendProblem(request, reply, new AppError('not_found', `Nothing at ${path}`));
    return sendProblem(request, reply, new AppError('route_not_found', `No route ${request.method} ${path}`));
  });
}
