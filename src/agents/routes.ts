import { Type } from 'typebox';
import { principalOf } from '../http/auth.js';
import { Cursor, Email, Limit, Timestamp, type App, errorResponses, pageSchema } from '../http/types.js';
import { idPattern } from '../shared/ids.js';
import { AGENT_ROLES, type AgentService } from './service.js';

const RoleSchema = Type.Unsafe<(typeof AGENT_ROLES)[number]>(Type.Enum([...AGENT_ROLES], { description: 'agent or admin' }));
const Name = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' });
const BrandIds = Type.Union([Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { minItems: 1, maxItems: 1000 }), Type.Null()], {
  description:
    'The brands the agent works on; null: every brand (only a token for every brand may set it). Left out on create: the brands of the calling token.',
});

export const AgentSchema = Type.Object(
  {
    id: Type.String({ pattern: idPattern('agt') }),
    name: Type.String(),
    email: Type.String({ description: 'Lower-cased; unique regardless of case' }),
    role: RoleSchema,
    brand_ids: Type.Union([Type.Array(Type.String()), Type.Null()], {
      description: 'null: every brand. A brand-restricted token sees only the brands it shares with the agent.',
    }),
    active: Type.Boolean({ description: 'false once deactivated: no longer assignable, and its tokens stop working' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'Agent' },
);

const AgentParams = Type.Object({ agent_id: Type.String({ description: 'An agent id, agt_…' }) });

export function agentRoutes(app: App, agents: AgentService): void {
  app.post(
    '/v1/agents',
    {
      config: { scope: 'admin', brands: 'body' },
      schema: {
        tags: ['Agents'],
        summary: 'Create an agent',
        description: 'The e-mail address is unique regardless of case (409 when taken).',
        body: Type.Object({ name: Name, email: Email, role: Type.Optional(RoleSchema), brand_ids: Type.Optional(BrandIds) }, { additionalProperties: false }),
        response: { 201: Type.Ref('Agent'), ...errorResponses(409, 422) },
      },
    },
    async (request, reply) => {
      const agent = await agents.create(principalOf(request), request.body);
      return reply.status(201).header('Location', `/v1/agents/${agent.id}`).send(agent);
    },
  );

  app.get(
    '/v1/agents',
    {
      config: { scope: 'tickets:read', brands: 'filter' },
      schema: {
        tags: ['Agents'],
        summary: 'List agents',
        description:
          'Oldest first: the agents of the token’s brands, and those of every brand. `brand_id` narrows to the agents who may be assigned that brand’s tickets.',
        querystring: Type.Object(
          {
            brand_id: Type.Optional(Type.String({ description: 'Agents working on this brand (agents of every brand included)' })),
            email: Type.Optional(Type.String({ maxLength: 254, description: 'Exact address, regardless of case' })),
            active: Type.Optional(Type.Boolean()),
            limit: Limit(100, 50),
            after: Type.Optional(Cursor),
          },
          { additionalProperties: false },
        ),
        response: { 200: pageSchema(Type.Ref('Agent')), ...errorResponses(400) },
      },
    },
    async (request) => agents.list(principalOf(request), request.query),
  );

  app.get(
    '/v1/agents/:agent_id',
    {
      config: { scope: 'tickets:read', brands: 'resource' },
      schema: { tags: ['Agents'], summary: 'Retrieve an agent', params: AgentParams, response: { 200: Type.Ref('Agent'), ...errorResponses(404) } },
    },
    async (request) => agents.get(principalOf(request), request.params.agent_id),
  );

  app.patch(
    '/v1/agents/:agent_id',
    {
      config: { scope: 'admin', brands: 'resource' },
      schema: {
        tags: ['Agents'],
        summary: 'Update an agent',
        description:
          'Partial update. `active: false` deactivates (as DELETE does), `true` reactivates. A brand-restricted token may change only agents whose brands are all its own (403 otherwise).',
        params: AgentParams,
        body: Type.Object(
          {
            name: Type.Optional(Name),
            email: Type.Optional(Email),
            role: Type.Optional(RoleSchema),
            brand_ids: Type.Optional(BrandIds),
            active: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Ref('Agent'), ...errorResponses(404, 409, 422) },
      },
    },
    async (request) => agents.update(principalOf(request), request.params.agent_id, request.body),
  );

  app.delete(
    '/v1/agents/:agent_id',
    {
      config: { scope: 'admin', brands: 'resource' },
      schema: {
        tags: ['Agents'],
        summary: 'Deactivate an agent',
        description:
          'Agents are never deleted (messages and audit entries keep naming them): this sets `active` to false. A deactivated agent cannot be assigned tickets, and tokens belonging to it answer 401 until it is reactivated.',
        params: AgentParams,
        response: { 200: Type.Ref('Agent'), ...errorResponses(404) },
      },
    },
    async (request) => agents.update(principalOf(request), request.params.agent_id, { active: false }),
  );
}
