import type { FastifyInstance } from 'fastify';
import { AppError } from './problem.js';

const isPlainObject = (v: unknown): v is object =>
  !!v && typeof v === 'object' && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

/** How deep a JSON body may nest (objects and arrays); far beyond any real request. */
export const MAX_BODY_DEPTH = 64;

/**
 * The JSON pointer of the first value nested deeper than `max`, or undefined. Iterative: the
 * input it exists for is the one that would overflow a recursive walk.
 */
export function tooDeepAt(value: unknown, max: number): string | undefined {
  const pending: { item: unknown; depth: number; pointer: string }[] = [{ item: value, depth: 0, pointer: '' }];
  while (pending.length) {
    const { item, depth, pointer } = pending.pop()!;
    // Parsed JSON only: arrays and plain objects (a streamed upload body is neither).
    if (!Array.isArray(item) && !isPlainObject(item)) continue;
    if (depth >= max) return pointer || '/';
    for (const [key, child] of Object.entries(item as object)) {
      pending.push({ item: child, depth: depth + 1, pointer: `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}` });
    }
  }
  return undefined;
}

/**
 * Refuses a parsed body nested deeper than MAX_BODY_DEPTH with a 422, before validation and
 * before anything (the idempotency hash, a size check) serializes it: JSON.stringify recurses,
 * and a few thousand levels overflow the stack.
 */
export function registerBodyDepthLimit(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    const pointer = tooDeepAt(request.body, MAX_BODY_DEPTH);
    if (pointer === undefined) return;
    const message = `nests deeper than ${MAX_BODY_DEPTH} levels`;
    throw new AppError('validation_failed', `${pointer.slice(0, 200)} ${message}`, { errors: [{ pointer: pointer.slice(0, 1000), message }] });
  });
}
