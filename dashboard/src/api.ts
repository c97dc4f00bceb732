/*
 * The dashboard's only way to the server: the public /v1 API with the signed-in token as a bearer.
 * The token lives in sessionStorage (gone when the tab closes), never in a URL, a cookie or
 * localStorage, and is never printed.
 */
import type { components } from './api-types.js';

const TOKEN_KEY = 'nexus.token';

/**
 * The API's problem document (RFC 9457). Every field but the status may be missing: a network
 * failure, or an answer that is not a problem, is described with what is known.
 */
export type Problem = Partial<components['schemas']['Problem']> & { status: number };

/** An API failure, carrying the problem document so the page can say what went wrong in words. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail ?? problem.title ?? `The API answered ${problem.status}`);
    this.status = problem.status;
    this.problem = problem;
  }
}

export const getToken = (): string | null => sessionStorage.getItem(TOKEN_KEY);
export const setToken = (token: string): void => sessionStorage.setItem(TOKEN_KEY, token);
export const clearToken = (): void => sessionStorage.removeItem(TOKEN_KEY);

let onUnauthorized: (problem: Problem) => void = () => {};
/** Called when a signed-in request gets a 401: the token was revoked or expired. */
export const handleUnauthorized = (fn: (problem: Problem) => void): void => {
  onUnauthorized = fn;
};

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** Send with this token instead of the stored one (sign-in checks a token before keeping it). */
  token?: string;
}

export interface ApiResponse<T> {
  data: T;
  headers: Headers;
}

export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
  const token = options.token ?? getToken();
  const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  // A fresh key per submit: a retried network request is replayed, never applied twice.
  if (method === 'POST') headers['Idempotency-Key'] ??= crypto.randomUUID();
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
  } catch {
    throw new ApiError({ status: 0, title: 'Network error', detail: 'The server could not be reached. Check that NexusCore is running, then try again.' });
  }
  const text = await res.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (!res.ok) {
    const problem: Problem =
      parsed && typeof parsed === 'object'
        ? { status: res.status, ...(parsed as Partial<Problem>) }
        : { status: res.status, detail: `The server answered ${res.status} ${res.statusText}` };
    if (res.status === 401 && !options.token) onUnauthorized(problem);
    throw new ApiError(problem);
  }
  return { data: parsed as T, headers: res.headers };
}

export const api = {
  get: async <T>(path: string, query?: Record<string, string | number | undefined | null>) => (await request<T>('GET', withQuery(path, query))).data,
  post: async <T>(path: string, body?: unknown) => (await request<T>('POST', path, { body: body ?? {} })).data,
  patch: async <T>(path: string, body: unknown, headers?: Record<string, string>) =>
    (await request<T>('PATCH', path, { body, ...(headers ? { headers } : {}) })).data,
  del: async <T>(path: string) => (await request<T>('DELETE', path)).data,
};

export function withQuery(path: string, query?: Record<string, string | number | undefined | null>): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export const enc = encodeURIComponent;

/** The words to show for any failure. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    const extra = err.problem.errors?.length ? err.problem.errors.map((e) => `${e.pointer} ${e.message}`).join('; ') : '';
    const detail = err.problem.detail ?? err.message;
    return extra && !detail.includes(extra) ? `${detail} (${extra})` : detail;
  }
  return err instanceof Error ? err.message : String(err);
}
