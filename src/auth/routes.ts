import { Type } from 'typebox';
import { principalOf } from '../http/auth.js';
import { type App, Timestamp, errorResponses } from '../http/types.js';
import { SCOPES } from './scopes.js';
import type { TokenService } from './token-service.js';

const ScopeSchema = Type.Unsafe<(typeof SCOPES)[number]>(Type.Enum([...SCOPES], { description: SCOPES.join(', ') }));

export const TokenSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    scopes: Type.Array(ScopeSchema),
    brand_ids: Type.Union([Type.Array(Type.String()), Type.Null()], { description: 'null: every brand' }),
    hint: Type.String({ description: 'The last characters of the secret' }),
    expires_at: Type.Union([Timestamp, Type.Null()]),
    revoked_at: Type.Union([Timestamp, Type.Null()]),
    last_used_at: Type.Union([Timestamp, Type.Null()]),
    created_at: Timestamp,
    agent_id: Type.Union([Type.String(), Type.Null()], {
      description: 'The agent the token belongs to (agt_…): messages written with it are attributed to that agent. null: none.',
    }),
  },
  { $id: 'Token' },
);

export function tokenRoutes(app: App, tokens: TokenService): void {
  app.post(
    '/v1/tokens',
    {
      config: { scope: 'admin', brands: 'body' },
      schema: {
        tags: ['Tokens'],
        summary: 'Create an API token',
        description:
          'The response carries `token`, the secret, this once; only its SHA-256 hash is stored. A token creates only tokens within its own rights: scopes it holds (403 otherwise), brands it has (a brand-restricted token: `brand_ids` left out means its own brands, `null` or another brand is a 422) and an expiry no later than its own (left out: its own).',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 200 }),
            scopes: Type.Array(ScopeSchema, { minItems: 1 }),
            brand_ids: Type.Optional(
              Type.Union([Type.Array(Type.String(), { minItems: 1, maxItems: 1000 }), Type.Null()], {
                description: 'null: every brand (only a token for every brand may grant it); left out: the brands of the calling token',
              }),
            ),
            expires_at: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
            agent_id: Type.Optional(
              Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()], {
                description: 'The agent the token belongs to (agt_…): an active agent the calling token can see (422 otherwise)',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Intersect([Type.Ref('Token'), Type.Object({ token: Type.String({ description: 'The secret, shown once' }) })]),
          ...errorResponses(422),
        },
      },
    },
    async (request, reply) => {
      const created = await tokens.create(request.body, principalOf(request));
      return reply.status(201).header('Location', `/v1/tokens/${created.id}`).send(created);
    },
  );

  app.get(
    '/v1/tokens',
    {
      config: { scope: 'admin', brands: 'filter' },
      schema: {
        tags: ['Tokens'],
        summary: 'List tokens (never their secrets)',
        description: 'A brand-restricted token lists only the tokens whose brands are all among its own.',
        response: { 200: Type.Object({ data: Type.Array(Type.Ref('Token')) }), ...errorResponses() },
      },
    },
    async (request) => ({ data: await tokens.list(principalOf(request)) }),
  );

  app.get(
    '/v1/tokens/me',
    {
      config: { scope: 'any-token', brands: 'self' },
      schema: {
        tags: ['Tokens'],
        summary: 'The calling token',
        description: 'Any valid token may call it: its own name, scopes, brand restriction and expiry, never its secret.',
        response: { 200: Type.Ref('Token'), 401: Type.Ref('Problem') },
      },
    },
    async (request) => tokens.getToken(principalOf(request).tokenId),
  );

  app.get(
    '/v1/tokens/:token_id',
    {
      config: { scope: 'admin', brands: 'resource' },
      schema: {
        tags: ['Tokens'],
        summary: 'Retrieve a token (never its secret)',
        description: 'A token outside the caller’s brands is a 404, like a missing one.',
        params: Type.Object({ token_id: Type.String() }),
        response: { 200: Type.Ref('Token'), ...errorResponses(404) },
      },
    },
    async (request) => tokens.get(request.params.token_id, principalOf(request)),
  );

  app.delete(
    '/v1/tokens/:token_id',
    {
      config: { scope: 'admin', brands: 'resource' },
      schema: {
        tags: ['Tokens'],
        summary: 'Revoke a token',
        description:
          'Effective immediately: the next request with it is a 401. A token outside the caller’s brands is a 404, like a missing one; the bootstrap token named by NEXUS_ADMIN_TOKEN is a 409 (change that setting and restart, or use the CLI).',
        params: Type.Object({ token_id: Type.String() }),
        response: { 200: Type.Ref('Token'), ...errorResponses(404, 409) },
      },
    },
    async (request) => tokens.revoke(request.params.token_id, principalOf(request)),
  );
}
