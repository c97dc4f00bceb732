import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { SCOPES, type Scope } from '../auth/scopes.js';
import { AppError } from './problem.js';
import { addRouteHook } from './route-hooks.js';

/**
 * What a route asks of the caller's credential: one scope (`admin` implies every scope,
 * `tickets:write` implies `tickets:read`), `any-token` (a valid token, whatever its scopes) or
 * `public` (no bearer token: the route needs none, or the URL itself is the credential).
 */
export const ROUTE_SCOPES = [...SCOPES, 'any-token', 'public'] as const;
export type RouteScope = (typeof ROUTE_SCOPES)[number];

/**
 * How the token's brand list (`brand_ids`) applies to a route. A token for every brand
 * (`brand_ids: null`) passes every rule; for a brand-restricted token:
 */
export const BRAND_RULES = {
  resource: 'The path names one resource; one outside the token’s brands is a 404, exactly like a missing id.',
  body: 'The body names the brand(s) of what is created or granted: each must be one of the token’s (else 422, worded like a brand that does not exist); an optional brand field left out means the token’s own brands.',
  filter: 'Lists and search show only items of the token’s brands; asking for another brand finds nothing.',
  unrestricted: 'Only a token for every brand (brand_ids null) may call it; a brand-restricted token gets a 403.',
  self: 'Concerns the calling token itself.',
  'signed-url': 'No bearer token: the signed URL names one attachment and is the whole credential.',
  none: 'Touches no brand’s data.',
} as const;
export type BrandRule = keyof typeof BRAND_RULES;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** How the token's brand list applies; every /v1 route declares it (checked as routes register). */
    brands?: BrandRule;
  }
}

/** Whether a route's path is part of the API, so it must declare its scope and brand rule. */
const isApiRoute = (url: string): boolean => url === '/v1' || url.startsWith('/v1/');

/** Public routes take no token, so no brand list can apply except through their own credential. */
const PUBLIC_RULES: readonly BrandRule[] = ['signed-url', 'none'];

/**
 * Makes authorization a property of each route's declaration: every /v1 route must say which
 * scope it needs (`config.scope`) and how the token's brands apply (`config.brands`), or the app
 * refuses to build (elsewhere, declaring neither means public). Both are copied into the OpenAPI operation as `x-required-scope` and
 * `x-brand-scope`, which the authorization matrix test reads. Register before any route.
 */
export function registerRouteAccess(app: FastifyInstance): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    const where = `${[route.method].flat().join(',')} ${route.url}`;
    let scope = route.config?.scope as RouteScope | undefined;
    let brands = route.config?.brands;
    if (!isApiRoute(route.url) && scope === undefined && brands === undefined) {
      // Outside the API (health, docs, dashboard) a route without a scope is public, as auth treats it.
      if (!route.schema) return;
      scope = 'public';
      brands = 'none';
    }
    if (scope === undefined || !(ROUTE_SCOPES as readonly string[]).includes(scope)) {
      throw new Error(`${where} must declare config.scope: one of ${ROUTE_SCOPES.join(', ')}`);
    }
    if (brands === undefined || !Object.hasOwn(BRAND_RULES, brands)) {
      throw new Error(`${where} must declare config.brands: one of ${Object.keys(BRAND_RULES).join(', ')}`);
    }
    if ((scope === 'public' && !PUBLIC_RULES.includes(brands)) || (brands === 'signed-url' && scope !== 'public')) {
      throw new Error(`${where}: config.brands '${brands}' does not fit config.scope '${scope}'`);
    }
    if ((scope === 'any-token') !== (brands === 'self')) {
      throw new Error(`${where}: only a route about the calling token itself may take any token`);
    }
    // Mutated in place: the OpenAPI generator keeps a reference to this route's schema.
    const schema = (route.schema ??= {}) as Record<string, unknown>;
    schema['x-required-scope'] = scope;
    schema['x-brand-scope'] = brands;
    if (brands === 'unrestricted') addRouteHook(route, 'preParsing', refuseBrandRestricted);
  });
}

/** After authentication (onRequest), before the body is read: the rule needs only the principal. */
function refuseBrandRestricted(request: FastifyRequest, _reply: FastifyReply, payload: unknown, done: (err: Error | null, payload?: unknown) => void): void {
  if (request.principal && request.principal.brandIds !== null) {
    done(new AppError('forbidden', 'This token is limited to some brands; only a token for every brand (brand_ids null) may do this'));
    return;
  }
  done(null, payload);
}

export const isTokenScope = (scope: RouteScope): scope is Scope => (SCOPES as readonly string[]).includes(scope);
