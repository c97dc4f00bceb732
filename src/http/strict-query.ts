import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { AppError } from './problem.js';

/**
 * A route hook that refuses query parameters its schema does not name (400 `invalid_query`, one
 * error per parameter). The query validator otherwise drops unknown parameters silently (the
 * older list routes keep that); a newer route opts in, so a misspelt `limt=5` is an error instead
 * of the default. Runs before validation, which would remove them.
 */
export function refuseUnknownQueryParameters(schema: { properties: Record<string, unknown> }) {
  const known = new Set(Object.keys(schema.properties));
  return (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    const unknown = Object.keys((request.query ?? {}) as Record<string, unknown>).filter((name) => !known.has(name));
    if (unknown.length === 0) {
      done();
      return;
    }
    const errors = unknown.slice(0, 20).map((name) => ({ pointer: name, message: 'is not a known query parameter' }));
    done(new AppError('invalid_query', `unknown query parameter${unknown.length > 1 ? 's' : ''}: ${unknown.slice(0, 20).join(', ')}`, { errors }));
  };
}
