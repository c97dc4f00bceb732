import ipaddr from 'ipaddr.js';
import { Type } from 'typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RateLimitConfig } from '../config.js';
import { countersDatabaseOf } from '../db/counters-database.js';
import type { Db } from '../db/schema.js';
import type { Clock } from '../shared/clock.js';
import { AppError } from './problem.js';
import { type RateLimitDecision, type RateLimitPolicy, type RateLimiter, createRateLimiter } from './rate-limiter.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The app's rate limiter; `sync()` merges counts with the other processes now. */
    rateLimiter: RateLimiter;
  }
  interface FastifyRequest {
    rateLimit: RequestRateLimit | null;
  }
}

/** What the limiter knows about one request, from its first hook to its response headers. */
interface RequestRateLimit {
  /** The credential the route checks: a bearer token, a signed URL, or none (public route). */
  credential: 'bearer' | 'signed-url' | undefined;
  address: string;
  decisions: RateLimitDecision[];
}

/**
 * The key of a client address. IPv4 as is (IPv4-mapped IPv6 too); IPv6 by its /64, the block one
 * subscriber usually gets, so that walking through one's own addresses does not reset the count.
 */
export function addressKey(ip: string | undefined): string {
  // A client that already hung up has no address left to read.
  if (!ip) return 'unknown';
  if (!ip.includes(':')) return ip;
  try {
    const parsed = ipaddr.parse(ip);
    if (parsed.kind() === 'ipv6') {
      const v6 = parsed as ipaddr.IPv6;
      if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
      return `${v6.parts
        .slice(0, 4)
        .map((p) => p.toString(16))
        .join(':')}::/64`;
    }
    return parsed.toString();
  } catch {
    return ip;
  }
}

const policyItem = (p: RateLimitPolicy) => `"${p.name}";q=${p.limit};w=${Math.round(p.windowMs / 1000)}`;

/**
 * Rate limits (docs/api.md, "Rate limits"): per token for authenticated requests, per client
 * address for the rest, and a stricter per-address budget of failed credential checks (401 on a
 * bearer route; 403 or 410 on a signed URL). Every response carries `RateLimit-Policy` and
 * `RateLimit` (IETF httpapi ratelimit-headers draft, structured-field form); a refused request
 * gets a 429 `rate_limited` problem with `Retry-After`.
 *
 * Register before the auth hook: the failure budget is checked before a credential costs a
 * lookup, and the token or address is counted in `preParsing`, after auth and before any body is read.
 */
export function registerRateLimits(app: FastifyInstance, deps: { db: Db; clock: Clock; config: RateLimitConfig }): void {
  const { config } = deps;
  const limiter = createRateLimiter({ db: countersDatabaseOf(deps.db), clock: deps.clock, syncIntervalMs: config.syncIntervalMs, log: app.log });
  app.decorate('rateLimiter', limiter);
  if (!config.enabled) return;

  const policies = {
    token: { name: 'token', ...config.perToken },
    address: { name: 'address', ...config.perAddress },
    authFailures: { name: 'auth-failures', ...config.authFailures },
  } satisfies Record<string, RateLimitPolicy>;
  const policyHeader = new Map<RateLimitPolicy, string>(Object.values(policies).map((p) => [p, policyItem(p)]));

  function refuse(request: FastifyRequest, reply: FastifyReply, d: RateLimitDecision): AppError {
    const w = Math.round(d.policy.windowMs / 1000);
    const detail =
      d.policy === policies.token
        ? `This token has used its ${d.policy.limit} requests per ${w} s`
        : d.policy === policies.address
          ? `This address has used its ${d.policy.limit} requests per ${w} s without a valid token`
          : `This address has failed authentication ${d.policy.limit} times in ${w} s`;
    // A body we will not read is cheaper to drop with the connection than to drain.
    if (request.headers['transfer-encoding'] !== undefined || (request.headers['content-length'] ?? '0') !== '0') reply.header('Connection', 'close');
    return new AppError('rate_limited', `${detail}; retry in ${d.resetSeconds} s`, { headers: { 'Retry-After': String(d.resetSeconds) } });
  }

  function setHeaders(reply: FastifyReply, decisions: RateLimitDecision[]): void {
    if (decisions.length === 0) return;
    let policy = '';
    let state = '';
    for (const d of decisions) {
      const sep = policy ? ', ' : '';
      policy += sep + policyHeader.get(d.policy)!;
      state += `${sep}"${d.policy.name}";r=${d.remaining};t=${d.resetSeconds}`;
    }
    reply.header('RateLimit-Policy', policy);
    reply.header('RateLimit', state);
  }

  // Any route may answer 429 now: say so in each route's responses (and so in the OpenAPI document).
  app.addHook('onRoute', (route) => {
    const response = route.schema?.response as Record<string, unknown> | undefined;
    if (response && !('429' in response)) route.schema = { ...route.schema, response: { ...response, 429: Type.Ref('Problem') } };
  });

  app.decorateRequest('rateLimit', null);
  limiter.start();
  app.addHook('onClose', async () => limiter.stop());

  app.addHook('onRequest', (request, reply, done) => {
    const route = request.routeOptions;
    // Each route declares its credential (src/http/access.ts): a scope for bearer routes, the
    // `signed-url` brand rule where the URL itself is the credential, `public` for neither.
    const scope = route.config?.scope;
    const credential = route.config?.brands === 'signed-url' ? 'signed-url' : scope && scope !== 'public' ? 'bearer' : undefined;
    const state: RequestRateLimit = { credential, address: addressKey(request.ip), decisions: [] };
    request.rateLimit = state;
    if (!credential) return done();
    const d = limiter.check(policies.authFailures, state.address);
    if (!d || d.allowed) return done();
    state.decisions.push(d);
    done(refuse(request, reply, d));
  });

  // After auth (onRequest) and before the body is read: a refused caller never makes us parse it.
  app.addHook('preParsing', (request, reply, payload, done) => {
    const state = request.rateLimit;
    if (!state) return done(null, payload);
    const d = request.principal ? limiter.consume(policies.token, request.principal.tokenId) : limiter.consume(policies.address, state.address);
    state.decisions.push(d);
    if (d.allowed) return done(null, payload);
    done(refuse(request, reply, d), payload);
  });

  app.addHook('onSend', (request, reply, payload, done) => {
    // Errors raised before preParsing (401 and 403 from the auth hook, framework errors) are counted
    // here, as answered: against the address, since no token was accepted for the route.
    const state = (request.rateLimit ??= { credential: undefined, address: addressKey(request.ip), decisions: [] });
    if (state.decisions.length === 0) {
      state.decisions.push(request.principal ? limiter.count(policies.token, request.principal.tokenId) : limiter.count(policies.address, state.address));
    }
    const status = reply.statusCode;
    const failed = status === 401 || (state.credential === 'signed-url' && (status === 403 || status === 410));
    if (!failed) {
      setHeaders(reply, state.decisions);
      return done(null, payload);
    }
    limiter.recordFailure(policies.authFailures, state.address).then((d) => {
      state.decisions.push(d);
      setHeaders(reply, state.decisions);
      done(null, payload);
    }, done);
  });
}
