import type { components } from './openapi-types.js';

/** An RFC 9457 problem as NexusCore answers it (`application/problem+json`). */
export type Problem = components['schemas']['Problem'];
/** The closed catalogue of problem codes (`GET /problems`). */
export type ProblemCode = Problem['code'];
export type ProblemFieldError = NonNullable<Problem['errors']>[number];

/**
 * A request the API refused or failed: the problem's fields, plus the response it came in. Thrown by
 * every helper of `NexusClient` (the raw `client.api` returns `{ data, error, response }` instead).
 * An answer that is not a problem (a proxy's HTML error page) still becomes one of these, with
 * `code` undefined and `title` the HTTP status text.
 */
export class NexusProblemError extends Error {
  override readonly name = 'NexusProblemError';
  /** A URI reference naming the problem type, such as `/problems#validation_failed`. */
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  /** From the catalogue; undefined when the body was not a NexusCore problem. */
  readonly code: ProblemCode | undefined;
  readonly instance: string | undefined;
  /** Quote it when asking for help: the server's logs are keyed on it. */
  readonly request_id: string | undefined;
  /** For a 422 (and a bad query parameter): one entry per problem, each a JSON pointer and a message. */
  readonly errors: ProblemFieldError[];
  /** The HTTP response, body already read. */
  readonly response: Response;

  constructor(problem: Omit<Problem, 'code' | 'request_id'> & { code?: ProblemCode | undefined; request_id?: string | undefined }, response: Response) {
    super(`${problem.status} ${problem.code ?? problem.title}: ${problem.detail}`);
    this.type = problem.type;
    this.title = problem.title;
    this.status = problem.status;
    this.detail = problem.detail;
    this.code = problem.code;
    this.instance = problem.instance;
    this.request_id = problem.request_id ?? response.headers.get('x-request-id') ?? undefined;
    this.errors = problem.errors ?? [];
    this.response = response;
  }

  /** The error for a response that was not a success, from its parsed body (or its text). */
  static fromResponse(response: Response, body: unknown): NexusProblemError {
    if (isProblem(body)) return new NexusProblemError(body, response);
    const title = response.statusText || `HTTP ${response.status}`;
    const detail = typeof body === 'string' && body.length > 0 ? body.slice(0, 500) : title;
    return new NexusProblemError({ type: 'about:blank', title, status: response.status, detail }, response);
  }
}

function isProblem(body: unknown): body is Problem {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as Record<string, unknown>;
  return typeof b.type === 'string' && typeof b.title === 'string' && typeof b.status === 'number' && typeof b.detail === 'string';
}
