import type { FastifyInstance } from 'fastify';
import { AppError } from './problem.js';

/** How deep a JSON body may nest (objects and arrays); far beyond any real request. */
export const MAX_BODY_DEPTH = 64;

const isPlainObject = (v: unknown): v is object =>
  !!v && typeof v === 'object' && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

const escapePointer = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

type Finding = { pointer: string; message: string };

/**
 * The first thing in a parsed JSON body that no route may receive: nesting deeper than `maxDepth`,
 * or a NUL character in a string or key. Iterative: the input it exists for is the one that would
 * overflow a recursive walk.
 */
export function inspectBody(value: unknown, maxDepth: number = MAX_BODY_DEPTH): Finding | undefined {
  const pending: { item: unknown; depth: number; pointer: string }[] = [{ item: value, depth: 0, pointer: '' }];
  while (pending.length) {
    const { item, depth, pointer } = pending.pop()!;
    if (typeof item === 'string') {
      if (item.includes('\u0000')) return { pointer: pointer || '/', message: 'must not contain NUL (U+0000) characters' };
      continue;
    }
    // Parsed JSON only: arrays and plain objects (a streamed upload body is neither).
    if (!Array.isArray(item) && !isPlainObject(item)) continue;
    if (depth >= maxDepth) return { pointer: pointer || '/', message: `nests deeper than ${maxDepth} levels` };
    for (const [key, child] of Object.entries(item)) {
      const childPointer = `${pointer}/${escapePointer(key)}`;
      if (key.includes('\u0000')) return { pointer: childPointer, message: 'must not have NUL (U+0000) characters in its name' };
      pending.push({ item: child, depth: depth + 1, pointer: childPointer });
    }
  }
  return undefined;
}

function nulParameter(values: unknown, declared?: object): string | undefined {
  if (!values || typeof values !== 'object') return undefined;
  for (const [name, value] of Object.entries(values)) {
    // Undeclared query parameters are dropped unread by validation: they cannot reach a query.
    if (declared && !(name in declared)) continue;
    if ([value].flat().some((v) => typeof v === 'string' && v.includes('\u0000'))) return name;
  }
  return undefined;
}

/**
 * Refuses, before validation and before anything (the idempotency hash, a size check, a query)
 * touches it: a JSON body nested deeper than MAX_BODY_DEPTH (JSON.stringify recurses, and a few
 * thousand levels overflow the stack) and text with NUL characters anywhere (PostgreSQL cannot
 * store them; refusing them everywhere keeps both databases alike). A body is a 422, a query or
 * path parameter a 400.
 */
export function registerInputGuard(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    const querystring = request.routeOptions.schema?.querystring as { properties?: object } | undefined;
    const parameter = nulParameter(request.params) ?? (querystring ? nulParameter(request.query, querystring.properties ?? {}) : undefined);
    if (parameter !== undefined) {
      const message = 'must not contain NUL (U+0000) characters';
      throw new AppError('invalid_query', `${parameter} ${message}`, { errors: [{ pointer: parameter, message }] });
    }
    const found = inspectBody(request.body);
    if (found) {
      const pointer = found.pointer.slice(0, 1000);
      throw new AppError('validation_failed', `${pointer.slice(0, 200)} ${found.message}`, { errors: [{ pointer, message: found.message }] });
    }
  });
}
