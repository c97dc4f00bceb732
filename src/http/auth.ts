import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TokenService } from '../auth/token-service.js';
import { type Principal, type Scope, hasScope } from '../auth/scopes.js';
import { AppError } from './problem.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a route needs. Routes without one are public (health, docs, signed URLs). */
    scope?: Scope;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * Authenticates in `onRequest`, before the body is read: an anonymous or under-scoped caller
 * learns nothing about validation and never makes the server parse a large body.
 */
export function registerAuth(app: FastifyInstance, tokens: TokenService): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request) => {
    const needed = request.routeOptions.config?.scope;
    if (!needed) return;
    const header = request.headers.authorization;
    const match = header ? BEARER.exec(header) : null;
    if (!match) {
      throw new AppError('unauthorized', 'Send a bearer token in the Authorization header', {
        headers: { 'WWW-Authenticate': 'Bearer realm="nexuscore"' },
      });
    }
    const principal = await tokens.authenticate(match[1]!);
    if (!hasScope(principal, needed)) {
      throw new AppError('forbidden', `This token lacks the ${needed} scope`);
    }
    request.principal = principal;
  });
}

/** The caller of a route that declared a scope; auth has already run. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError('unauthorized', 'Authentication required');
  return request.principal;
}
