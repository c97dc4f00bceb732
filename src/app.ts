import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, LogController } from 'fastify';
import type { Logger } from 'pino';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from './config.js';
import { pendingMigrations } from './db/migration-status.js';
import type { Db } from './db/schema.js';
import type { Clock } from './shared/clock.js';
import type { SecretBox } from './shared/secret-box.js';
import type { Services } from './services.js';
import type { Metrics } from './metrics/metrics.js';
import { registerMetrics } from './metrics/http.js';
import { registerRouteAccess } from './http/access.js';
import { registerAuth } from './http/auth.js';
import { registerIdempotency } from './http/idempotency.js';
import { registerInputGuard } from './http/input-guard.js';
import { registerRateLimits } from './http/rate-limit.js';
import { AppError, ProblemSchema, errorCatalogue, registerProblemHandlers, sendProblem } from './http/problem.js';
import { createClientErrorHandler, frameworkErrors, registerClientErrors } from './http/client-errors.js';
import { registerTimeouts, timeoutServerOptions } from './http/timeouts.js';
import type { App } from './http/types.js';
import { lazySerializerFactory } from './http/lazy-serializers.js';
import { createValidatorCompiler, registerStrictQueries } from './http/validation.js';
import { JsonValueSchema } from './http/json-value.js';
import { completeOpenApiDocument } from './http/openapi.js';
import { eventComponentSchemas, webhookEvents } from './events/schemas.js';
import { BrandSchema, brandRoutes } from './brands/routes.js';
import { QueueSchema, queueRoutes } from './queues/routes.js';
import { TokenSchema, tokenRoutes } from './auth/routes.js';
import { ticketRoutes } from './tickets/routes.js';
import { AgentSchema, agentRoutes } from './agents/routes.js';
import { viewRoutes } from './views/routes.js';
import { ViewSchema } from './views/schemas.js';
import { CustomerSchema, ErasureResultSchema, customerRoutes } from './customers/routes.js';
import { ErasureCountsSchema } from './customers/schemas.js';
import { webhookRoutes } from './webhooks/routes.js';
import { eventRoutes } from './events/routes.js';
import { attachmentRoutes } from './attachments/routes.js';
import { searchRoutes } from './search/routes.js';
import { exportRoutes } from './exports/routes.js';
import { registerDashboard } from './dashboard/plugin.js';
import { InboundResultSchema, inboundEmailRoutes } from './email/routes.js';
import { AttachmentSchema, AuditEntrySchema, MessageSchema, QueuePlacementSchema, TicketSchema } from './tickets/schemas.js';

export const BODY_LIMIT = 1024 * 1024;

export interface AppDeps {
  db: Db;
  clock: Clock;
  config: Config;
  services: Services;
  /** The deployment's secret box: seals the responses kept for Idempotency-Key replays. */
  secretBox: SecretBox;
  /** The pino logger requests log to; none means silence (tests). */
  logger?: Logger | undefined;
  /** The runtime's metrics: request durations go there, and `/metrics` serves them when a token is set. */
  metrics?: Metrics | undefined;
}

/** A readiness check that does not answer within this fails: a hung mount or bucket must not hang the probe. */
const READINESS_TIMEOUT_MS = 5000;

function withinReadinessTimeout<T>(what: Promise<T>, failure: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(failure)), READINESS_TIMEOUT_MS);
  });
  return Promise.race([what, timeout]).finally(() => clearTimeout(timer));
}

const sharedSchemas = [
  ProblemSchema,
  JsonValueSchema,
  TicketSchema,
  QueuePlacementSchema,
  AttachmentSchema,
  MessageSchema,
  AuditEntrySchema,
  BrandSchema,
  QueueSchema,
  TokenSchema,
  InboundResultSchema,
  AgentSchema,
  CustomerSchema,
  ViewSchema,
  ErasureCountsSchema,
  ErasureResultSchema,
  ...eventComponentSchemas,
];

/** Builds the HTTP app: every module is registered here, explicitly, in one place. */
export async function buildApp(deps: AppDeps): Promise<App> {
  const { db, clock, config, services } = deps;
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger as FastifyBaseLogger } : { logger: false }),
    // One access line per request, written when the response is done (below), instead of
    // Fastify's two (received, completed): half the logging on the hot path. Server errors are
    // logged by the problem handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,100}$/.test(given) ? given : `req_${randomUUID()}`;
    },
    requestIdHeader: false,
    // Every error a client can see is a problem: the parser's, the router's and the shutdown 503 too.
    clientErrorHandler: createClientErrorHandler(config.http.headersTimeoutMs),
    frameworkErrors,
    return503OnClosing: false,
    ...timeoutServerOptions(config.http),
    schemaController: { compilersFactory: { buildSerializer: lazySerializerFactory() } },
    routerOptions: { ignoreTrailingSlash: true },
    // The client address rate limits key on: the peer, or X-Forwarded-For from a trusted proxy.
    ...(config.trustProxy ? { trustProxy: config.trustProxy } : {}),
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Before any route is added, so that the route table behind 405s sees every one.
  registerProblemHandlers(app);
  registerClientErrors(app);
  registerTimeouts(app, config.http);

  // The API speaks JSON only; the default text/plain parser would let a text body reach validation.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(createValidatorCompiler(sharedSchemas));
  for (const schema of sharedSchemas) app.addSchema(schema);
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('X-Request-Id', request.id);
    done();
  });
  if (deps.logger) {
    // The access line holds only the fields named here (the request serializer keeps the id, the
    // method and the path with signed-URL secrets masked): it skips the redaction every other line
    // passes through, which walks each logged object for tokens and secrets (~1.5 µs a request).
    const accessLog = deps.logger.child({}, { redact: { paths: [] } });
    app.addHook('onResponse', (request, reply, done) => {
      accessLog.info({ reqId: request.id, req: request, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
      done();
    });
  }

  // Before any route: every /v1 route must declare its scope and brand rule, or building fails.
  registerRouteAccess(app);
  registerStrictQueries(app);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'NexusCore Tickets API',
        version: '1.0.0',
        description:
          'Create, route, answer and search customer tickets; react to ticket events through webhooks. All endpoints live under /v1 and take a bearer token, except this document and the signed upload and download URLs, whose URL is the credential.',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      servers: [{ url: config.publicUrl }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API token, nxc_…' } } },
      security: [{ bearer: [] }],
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String((json as { $id?: string }).$id ?? `def-${i}`) },
    transformObject: completeOpenApiDocument({ webhookEvents }),
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: true } });

  registerInputGuard(app);
  // Before auth: a blocked guesser is refused before its credential costs a lookup.
  registerRateLimits(app, { db, clock, config: config.rateLimit });
  registerAuth(app, services.tokens);
  registerIdempotency(app, { db, clock, secretBox: deps.secretBox });
  if (deps.metrics) registerMetrics(app, deps.metrics, { token: config.metrics.token, search: services.search });

  app.get('/v1/openapi.json', { config: { scope: 'public', brands: 'none' }, schema: { hide: true } }, async () => app.swagger());

  app.get(
    '/healthz',
    { schema: { tags: ['Health'], summary: 'Liveness', security: [], response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async () => ({
      status: 'ok' as const,
    }),
  );
  app.get(
    '/readyz',
    {
      schema: {
        tags: ['Health'],
        summary: 'Readiness: the database answers with its migrations applied, and the blob store is reachable',
        security: [],
        response: { 200: Type.Object({ status: Type.Literal('ready') }), 503: Type.Ref('Problem') },
      },
    },
    async (request, reply) => {
      let pending: string[];
      try {
        pending = await withinReadinessTimeout(pendingMigrations(db), 'the database did not answer in time');
      } catch (err) {
        request.log.error({ err }, 'readiness check failed: database');
        return sendProblem(request, reply, new AppError('unavailable', 'The database is not reachable'));
      }
      if (pending.length > 0) {
        request.log.warn({ pending }, 'not ready: migrations pending');
        return sendProblem(request, reply, new AppError('unavailable', `The database schema is behind this release: ${pending.length} migration(s) pending`));
      }
      try {
        await withinReadinessTimeout(services.attachments.checkStorage(), 'the blob store did not answer in time');
      } catch (err) {
        request.log.error({ err }, 'readiness check failed: blob store');
        return sendProblem(request, reply, new AppError('unavailable', 'The attachment store is not reachable'));
      }
      return { status: 'ready' as const };
    },
  );
  app.get('/problems', { schema: { hide: true } }, async (_request, reply) => {
    const rows = Object.entries(errorCatalogue)
      .map(([code, e]) => `<tr id="${code}"><td><code>${code}</code></td><td>${e.status}</td><td>${e.title}</td></tr>`)
      .join('');
    return reply
      .type('text/html; charset=utf-8')
      .send(
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>NexusCore problem types</title></head><body><h1>Problem types</h1><p>Every error is an RFC 9457 problem with one of these codes.</p><table><tr><th>code</th><th>status</th><th>title</th></tr>${rows}</table></body></html>`,
      );
  });

  tokenRoutes(app, services.tokens);
  brandRoutes(app, services.brands);
  queueRoutes(app, services.queues);
  ticketRoutes(app, services.tickets);
  agentRoutes(app, services.agents);
  customerRoutes(app, services.customers);
  viewRoutes(app, services.views);
  webhookRoutes(app, services.webhooks);
  eventRoutes(app, services.events);
  attachmentRoutes(app, services.attachments);
  searchRoutes(app, services.search);
  exportRoutes(app, services.exports);
  inboundEmailRoutes(app, services.email.inbound, config.email.smtpMaxBytes);
  registerDashboard(app);

  await app.ready();
  return app;
}
