import { Type } from 'typebox';
import { AppError } from '../http/problem.js';
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
  },
  { $id: 'Token' },
);

export function tokenRoutes(app: App, tokens: TokenService): void {
  app.post(
    '/v1/tokens',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['Tokens'],
        summary: 'Create an API token',
        description: 'The response carries `token`, the secret, this once; only its SHA-256 hash is stored.',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 200 }),
            scopes: Type.Array(ScopeSchema, { minItems: 1 }),
            brand_ids: Type.Optional(Type.Union([Type.Array(Type.String(), { minItems: 1, maxItems: 1000 }), Type.Null()])),
            expires_at: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Intersect([Type.Ref('Token'), Type.Object({ token: Type.String({ description: 'The secret, shown once' }) })]),
          ...errorResponses(422),
        },
      },
    },
    async (request, reply) => reply.status(201).send(await tokens.create(request.body)),
  );

  app.get(
    '/v1/tokens',
    {
      config: { scope: 'admin' },
      schema: { tags: ['Tokens'], summary: 'List tokens (never their secrets)', response: { 200: Type.Object({ data: Type.Array(Type.Ref('Token')) }), ...errorResponses() } },
    },
    async () => ({ data: await tokens.list() }),
  );

  app.get(
    '/v1/tokens/me',
    {
      // No route scope on purpose: any valid token may ask who it is, so the handler authenticates.
      schema: {
        tags: ['Tokens'],
        summary: 'The calling token',
        description: 'Any valid token may call it: its own name, scopes, brand restriction and expiry, never its secret.',
        response: { 200: Type.Ref('Token'), 401: Type.Ref('Problem') },
      },
    },
    async (request) => {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
      if (!match) {
        throw new AppError('unauthorized', 'Send a bearer token in the Authorization header', {
          headers: { 'WWW-Authenticate': 'Bearer realm="nexuscore"' },
        });
      }
      const principal = await tokens.authenticate(match[1]!);
      return tokens.getToken(principal.tokenId);
    },
  );

  app.delete(
    '/v1/tokens/:token_id',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['Tokens'],
        summary: 'Revoke a token',
        description: 'Effective immediately: the next request with it is a 401.',
        params: Type.Object({ token_id: Type.String() }),
        response: { 200: Type.Ref('Token'), ...errorResponses(404) },
      },
    },
    async (request) => tokens.revoke(request.params.token_id),
  );
}
