// The ideal ticket server the HTTP bench measures NexusCore against: Fastify 5 + better-sqlite3
// (WAL, synchronous=FULL like NexusCore) or its PostgreSQL twin (pg), serving the same requests as
// NexusCore's API with the least work each needs (see ideal-db.mjs): a bearer token looked up by
// SHA-256 on every request, JSON Schema validation, response serialisation from a schema.
// No request logging, no caching.
//
//   PORT=3103 DB=/path/to/ideal.sqlite node bench/http/ideal-server.mjs
//   PORT=3103 DATABASE_URL=postgres://… node bench/http/ideal-server.mjs
import Fastify from 'fastify';
import { newId, openPgStore, openSqliteStore, rowToTicket, sha256, timestamp } from './ideal-db.mjs';

const store = process.env.DATABASE_URL ? await openPgStore(process.env.DATABASE_URL) : await openSqliteStore(process.env.DB, { sync: 'FULL' });
const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
app.decorateRequest('auth', null);

const ERR = { type: 'object', properties: { error: { type: 'string' } } };
const STR = { type: 'string' };
const NULLABLE = { type: ['string', 'null'] };
const TICKET = {
  type: 'object',
  properties: {
    id: STR,
    brand_id: STR,
    subject: STR,
    description: STR,
    status: STR,
    priority: STR,
    assigned_to: NULLABLE,
    tags: { type: 'array', items: STR },
    customer: { type: 'object', properties: { email: STR, name: NULLABLE } },
    metadata: { type: 'object', additionalProperties: true },
    version: { type: 'integer' },
    created_at: STR,
    updated_at: STR,
  },
};
const MESSAGE = {
  type: 'object',
  properties: { id: STR, ticket_id: STR, author_type: STR, author_email: NULLABLE, body: STR, created_at: STR },
};
const ID_PARAMS = { type: 'object', properties: { id: { type: 'string', maxLength: 64 } }, required: ['id'] };
const STATUS = { type: 'string', enum: ['open', 'pending', 'resolved', 'snoozed'] };
const PRIORITY = { type: 'string', enum: ['low', 'normal', 'high', 'urgent'] };

function authenticate(scope) {
  return async (request, reply) => {
    const h = request.headers.authorization;
    if (typeof h !== 'string' || !h.startsWith('Bearer ')) return reply.code(401).send({ error: 'unauthorized' });
    const tok = await store.token(sha256(h.slice(7)));
    if (!tok || tok.revoked_at !== null || (tok.expires_at !== null && tok.expires_at <= timestamp())) {
      return reply.code(401).send({ error: 'unauthorized' });
    }
    if (!JSON.parse(tok.scopes).includes(scope)) return reply.code(403).send({ error: 'forbidden' });
    request.auth = tok;
  };
}

app.get('/healthz', async () => ({ status: 'ok' }));

app.get(
  '/v1/tickets/:id',
  {
    onRequest: authenticate('tickets:read'),
    schema: { params: ID_PARAMS, response: { 200: TICKET, 404: ERR } },
  },
  async (request, reply) => {
    const row = await store.ticket(request.params.id, request.auth.brand_id);
    if (!row) return reply.code(404).send({ error: 'not_found' });
    return rowToTicket(row);
  },
);

app.get(
  '/v1/tickets',
  {
    onRequest: authenticate('tickets:read'),
    schema: {
      querystring: {
        type: 'object',
        properties: { brand_id: STR, status: STATUS, limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 } },
        required: ['brand_id', 'status'],
      },
      response: { 200: { type: 'object', properties: { data: { type: 'array', items: TICKET }, next_cursor: NULLABLE } } },
    },
  },
  async (request) => {
    const { brand_id, status, limit } = request.query;
    if (brand_id !== request.auth.brand_id) return { data: [], next_cursor: null };
    const rows = await store.list(brand_id, status, limit + 1);
    const more = rows.length > limit;
    const data = rows.slice(0, limit).map(rowToTicket);
    return { data, next_cursor: more ? data[data.length - 1].id : null };
  },
);

app.post(
  '/v1/tickets/search',
  {
    onRequest: authenticate('tickets:read'),
    schema: {
      body: {
        type: 'object',
        required: ['query'],
        properties: {
          query: { type: 'string', minLength: 1, maxLength: 1000 },
          mode: { type: 'string', enum: ['hybrid', 'keyword', 'semantic'] },
          filters: { type: 'object', properties: { brand_id: STR } },
          limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
        },
      },
      response: {
        200: {
          type: 'object',
          properties: { data: { type: 'array', items: { type: 'object', properties: { ticket: TICKET, score: { type: 'number' } } } }, next_cursor: NULLABLE },
        },
      },
    },
  },
  async (request) => {
    const brand = request.auth.brand_id;
    if (request.body.filters?.brand_id && request.body.filters.brand_id !== brand) return { data: [], next_cursor: null };
    const rows = await store.search(request.body.query, brand, request.body.limit);
    return { data: rows.map((r) => ({ ticket: rowToTicket(r), score: Math.abs(Number(r.score)) })), next_cursor: null };
  },
);

app.post(
  '/v1/tickets',
  {
    onRequest: authenticate('tickets:write'),
    schema: {
      body: {
        type: 'object',
        required: ['brand_id', 'subject', 'customer'],
        additionalProperties: false,
        properties: {
          brand_id: { type: 'string', minLength: 1, maxLength: 100 },
          subject: { type: 'string', minLength: 1, maxLength: 300 },
          description: { type: 'string', maxLength: 65536, default: '' },
          customer: {
            type: 'object',
            required: ['email'],
            additionalProperties: false,
            properties: { email: { type: 'string', format: 'email', maxLength: 254 }, name: { type: ['string', 'null'], maxLength: 200 } },
          },
          priority: { ...PRIORITY, default: 'normal' },
          tags: { type: 'array', maxItems: 50, items: { type: 'string', minLength: 1, maxLength: 64 }, default: [] },
          metadata: { type: 'object', default: {} },
          assigned_to: { type: ['string', 'null'], maxLength: 254, default: null },
        },
      },
      response: { 201: TICKET, 422: ERR },
    },
  },
  async (request, reply) => {
    const b = request.body;
    if (b.brand_id !== request.auth.brand_id) return reply.code(422).send({ error: 'unknown brand' });
    const now = new Date();
    const at = timestamp(now);
    const t = {
      id: newId('tick', now.getTime()),
      brand_id: b.brand_id,
      subject: b.subject.trim(),
      description: b.description,
      status: 'open',
      priority: b.priority,
      assigned_to: b.assigned_to,
      tags: JSON.stringify(b.tags),
      customer_email: b.customer.email.toLowerCase(),
      customer_name: b.customer.name ?? null,
      metadata: JSON.stringify(b.metadata),
      version: 1,
      created_at: at,
      updated_at: at,
    };
    await store.createTicket(t, request.auth.id);
    return reply.code(201).send(rowToTicket(t));
  },
);

app.post(
  '/v1/tickets/:id/messages',
  {
    onRequest: authenticate('tickets:write'),
    schema: {
      params: ID_PARAMS,
      body: {
        type: 'object',
        required: ['author_type', 'body'],
        properties: {
          author_type: { type: 'string', enum: ['agent', 'customer'] },
          body: { type: 'string', minLength: 1, maxLength: 65536 },
          author: { type: 'object', properties: { email: { type: 'string', maxLength: 254 }, name: { type: ['string', 'null'] } } },
        },
      },
      response: { 201: MESSAGE, 404: ERR },
    },
  },
  async (request, reply) => {
    const now = new Date();
    const m = {
      id: newId('msg', now.getTime()),
      ticket_id: request.params.id,
      author_type: request.body.author_type,
      author_email: request.body.author?.email ?? null,
      body: request.body.body,
      created_at: timestamp(now),
    };
    if (!(await store.addMessage(request.auth.brand_id, m, request.auth.id))) return reply.code(404).send({ error: 'not_found' });
    return reply.code(201).send(m);
  },
);

app.patch(
  '/v1/tickets/:id',
  {
    onRequest: authenticate('tickets:write'),
    schema: {
      params: ID_PARAMS,
      body: { type: 'object', additionalProperties: false, properties: { status: STATUS, priority: PRIORITY } },
      response: { 200: TICKET, 404: ERR },
    },
  },
  async (request, reply) => {
    const ticket = await store.updateTicket(request.params.id, request.auth.brand_id, request.body, request.auth.id, timestamp());
    if (!ticket) return reply.code(404).send({ error: 'not_found' });
    return ticket;
  },
);

await app.listen({ port: Number(process.env.PORT ?? 3103), host: '127.0.0.1' });
console.log(`ideal server listening on 127.0.0.1:${process.env.PORT} (${store.dialect})`);
let closing = false;
const shutdown = async () => {
  if (closing) return;
  closing = true;
  await app.close();
  await store.close();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
