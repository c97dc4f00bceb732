import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TokenService } from '../auth/token-service.js';
import { type Principal, hasScope } from '../auth/scopes.js';
import { type RouteScope, isTokenScope } from './access.js';
import { AppError } from './problem.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The scope a route needs, `any-token` (any valid token) or `public` (no token: health, docs,
     * signed URLs). Routes without one are public; every /v1 route must declare it (see access.ts).
     */
    scope?: RouteScope;
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
  // Token uses are written behind the requests (token-service.ts): the last ones before a stop too.
  app.addHook('onClose', () => tokens.recordUses());
  app.addHook('onRequest', async (request) => {
    const needed = request.routeOptions.config?.scope;
    if (!needed || needed === 'public') return;
    const header = request.headers.authorization;
    const match = header ? BEARER.exec(header) : null;
    if (!match) {
      throw new AppError('unauthorized', 'Send a bearer token in the Authorization header', {
        headers: { 'WWW-Authenticate': 'Bearer realm="nexuscore"' },
      });
    }
    const principal = await tokens.authenticate(match[1]!);
    if (isTokenScope(needed) && !hasScope(principal, needed)) {
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
