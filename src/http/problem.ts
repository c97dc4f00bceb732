import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';

/**
 * The closed catalogue of error codes. Each code has one HTTP status and one title; the `detail`
 * of a problem says what went wrong this time.
 */
export const errorCatalogue = {
  bad_request: { status: 400, title: 'Bad request' },
  invalid_json: { status: 400, title: 'Malformed JSON body' },
  invalid_query: { status: 400, title: 'Invalid query parameter' },
  invalid_cursor: { status: 400, title: 'Invalid pagination cursor' },
  unauthorized: { status: 401, title: 'Authentication required' },
  forbidden: { status: 403, title: 'Missing scope' },
  upload_url_invalid: { status: 403, title: 'Invalid upload URL' },
  download_url_invalid: { status: 403, title: 'Invalid download URL' },
  not_found: { status: 404, title: 'Resource not found' },
  route_not_found: { status: 404, title: 'Route not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'Conflict' },
  idempotency_in_progress: { status: 409, title: 'A request with this Idempotency-Key is in progress' },
  upload_url_expired: { status: 410, title: 'Upload URL expired or used' },
  download_url_expired: { status: 410, title: 'Download URL expired' },
  precondition_failed: { status: 412, title: 'Precondition failed' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  validation_failed: { status: 422, title: 'Validation failed' },
  idempotency_key_reused: { status: 422, title: 'Idempotency-Key reused with a different request' },
  rate_limited: { status: 429, title: 'Too many requests' },
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
    if (context !== 'body') pointer = pointer.replace(/^\//, '') || context || '';
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

/** Maps anything thrown during a request to a problem response; 5xx details go to the log only. */
export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    if (error instanceof AppError) return sendProblem(request, reply, error);
    const fe = error as FastifyError & { validation?: AjvError[]; validationContext?: string };
    if (fe.validation) {
      const errors = ajvToFieldErrors(fe.validation, fe.validationContext);
      const detail = errors.map((e) => `${e.pointer} ${e.message}`).join('; ');
      const code: ErrorCode = fe.validationContext === 'body' ? 'validation_failed' : 'invalid_query';
      return sendProblem(request, reply, new AppError(code, detail, { errors }));
    }
    switch (fe.code) {
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return sendProblem(request, reply, new AppError('invalid_json', 'The request body is not valid JSON'));
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendProblem(request, reply, new AppError('payload_too_large', 'The request body exceeds the size limit'));
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
          return sendProblem(request, reply, new AppError('unsupported_media_type', `Content-Type ${request.headers['content-type'] ?? '(none)'} is not accepted here; send application/json`));
        }
        return sendProblem(request, reply, new AppError('bad_request', 'Content-Length does not match the body'));
    }
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      // Parser errors from inside JSON.parse surface as 400 with a SyntaxError.
      const code: ErrorCode = fe.statusCode === 413 ? 'payload_too_large' : fe.statusCode === 415 ? 'unsupported_media_type' : 'bad_request';
      return sendProblem(request, reply, new AppError(code, fe.message));
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendProblem(request, reply, new AppError('internal_error', 'An unexpected error occurred; it has been logged'));
  });

  // Every route's path as a pattern, so that a known path with the wrong method is a 405, not a 404.
  const routes: { pattern: RegExp; methods: string[] }[] = [];
  app.addHook('onRoute', (route) => {
    if (route.url.includes('*')) return;
    const source = route.url.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z_]\w*/g, '[^/]+');
    routes.push({ pattern: new RegExp(`^${source}/?$`), methods: [route.method].flat() });
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allowed = [...new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods))];
    if (allowed.length && !allowed.includes(request.method)) {
      return sendProblem(
        request,
        reply,
        new AppError('method_not_allowed', `${request.method} is not allowed on ${path}; use ${allowed.join(', ')}`, { headers: { Allow: allowed.join(', ') } }),
      );
    }
    return sendProblem(request, reply, new AppError('route_not_found', `No route ${request.method} ${path}`));
  });
}
