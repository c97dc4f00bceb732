import type { SwaggerTransformObject } from '@fastify/swagger';
import { type ErrorCode, errorCatalogue } from './problem.js';

/*
 * The last pass over the OpenAPI document @fastify/swagger builds from the route schemas. Routes
 * declare what is theirs (params, body, success and route-specific errors); what every route of a
 * kind shares is added here, in one place, so a new route gets it without declaring it:
 *
 * - an operationId on every operation (derived from method and path, or named below),
 * - every error as `application/problem+json`, with the catalogue codes it may carry,
 * - the errors the framework and the shared hooks produce (body parsing, query validation,
 *   idempotency, authentication, rate limits, server errors) on the operations they can reach,
 * - parameters and body fields that have a default marked optional (the validator fills them in),
 * - the Idempotency-Key header on authenticated POSTs,
 * - the payload of every webhook event in the top-level `webhooks` section (OpenAPI 3.1),
 * - the closed list of problem codes in the Problem schema.
 */

type Json = Record<string, unknown>;
interface Schema extends Json {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  default?: unknown;
  required?: string[];
  properties?: Record<string, Schema>;
}
interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: Schema;
}
interface Response {
  description?: string;
  content?: Record<string, { schema?: Schema }>;
  headers?: Json;
}
interface Operation {
  operationId?: string;
  summary?: string;
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: Schema }>; required?: boolean; description?: string };
  responses?: Record<string, Response>;
  security?: unknown[];
}
export interface OpenApiDocument {
  openapi: string;
  info: Json;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> } & Json;
  security?: unknown[];
  webhooks?: Record<string, unknown>;
}

const PROBLEM_MEDIA_TYPE = 'application/problem+json';
const PROBLEM_REF = '#/components/schemas/Problem';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
/** Fastify parses a body sent with these methods whether or not the route declares one. */
const BODY_METHODS = ['post', 'put', 'patch', 'delete', 'options'];

/**
 * Names that derivation would get wrong: actions (a POST to a verb), singletons and the routes
 * outside /v1. Everything else is derived (see deriveOperationId). Changing a name breaks the
 * generated clients of our users: the list is pinned by test/api/openapi-lint.test.ts.
 */
const OPERATION_IDS: Record<string, string> = {
  'GET /healthz': 'getHealth',
  'GET /readyz': 'getReadiness',
  'GET /v1/tokens/me': 'getCurrentToken',
  'DELETE /v1/tokens/{token_id}': 'revokeToken',
  'POST /v1/tickets/search': 'searchTickets',
  'GET /v1/tickets/{ticket_id}/similar': 'listSimilarTickets',
  'POST /v1/tickets/bulk': 'bulkUpdateTickets',
  'POST /v1/tickets/{ticket_id}/merge': 'mergeTicket',
  'DELETE /v1/agents/{agent_id}': 'deactivateAgent',
  'POST /v1/customers/{customer_id}/erase': 'eraseCustomer',
  'POST /v1/webhooks/{webhook_id}/rotate-secret': 'rotateWebhookSecret',
  'POST /v1/webhooks/{webhook_id}/test': 'sendWebhookTest',
  'POST /v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry': 'retryWebhookDelivery',
  'PUT /v1/uploads/{token}': 'uploadAttachment',
  'GET /v1/downloads/{token}': 'downloadAttachment',
  'POST /v1/inbound/email': 'receiveEmail',
};

const pascal = (word: string) => word.replace(/(^|[-_])(\w)/g, (_m, _sep, c: string) => c.toUpperCase());
const singular = (word: string) => (word.endsWith('ies') ? `${word.slice(0, -3)}y` : word.endsWith('s') ? word.slice(0, -1) : word);

/**
 * REST names from the path: `GET /v1/tickets` listTickets, `POST /v1/tickets` createTicket,
 * `GET|PATCH|DELETE /v1/tickets/{id}` getTicket, updateTicket, deleteTicket, and nested
 * collections prefixed by their parents: `GET /v1/tickets/{id}/messages` listTicketMessages.
 */
export function deriveOperationId(method: string, path: string): string {
  const segments = path.split('/').filter((s) => s && s !== 'v1');
  const last = segments[segments.length - 1] ?? 'root';
  const nouns = segments.filter((s) => !s.startsWith('{'));
  const parents = nouns
    .slice(0, -1)
    .map((n) => pascal(singular(n)))
    .join('');
  const noun = pascal(nouns[nouns.length - 1] ?? 'root');
  const m = method.toLowerCase();
  if (last.startsWith('{')) {
    const verb = { get: 'get', patch: 'update', put: 'replace', delete: 'delete' }[m] ?? m;
    return `${verb}${parents}${singular(noun)}`;
  }
  if (m === 'get') return `list${parents}${noun}`;
  if (m === 'post') return `create${parents}${singular(noun)}`;
  return `${m}${parents}${noun}`;
}

/** What an operation is, as far as the shared errors care. */
interface OperationFacts {
  method: string;
  /** A body sent is read: the operation takes one, or the method is one whose body Fastify parses anyway. */
  readsBody: boolean;
  /** A body sent is parsed as JSON: a JSON body, or a stray one on a route that declares none. */
  readsJson: boolean;
  authenticated: boolean;
  idempotent: boolean;
  parameters: boolean;
  pathParameters: boolean;
  cursor: boolean;
  /** Statuses the route declared itself. */
  declared: Set<string>;
}

/**
 * Where each catalogue code can occur, for codes that shared machinery produces. A code without a
 * rule (conflict, precondition_failed, a route's own codes) is documented where a route declares
 * its status. A new code that any route can produce needs a rule here, or the contract test, which
 * checks every response against this document, fails.
 */
const PROBLEM_RULES: Partial<Record<ErrorCode, (op: OperationFacts) => boolean>> = {
  // A body cut short, a malformed Idempotency-Key.
  bad_request: (op) => op.readsBody || op.idempotent || op.declared.has('400'),
  invalid_json: (op) => op.readsJson,
  // The router refuses a path whose percent-encoding does not decode, or with a segment longer
  // than any id; the parser refuses framings and oversized headers before any route is known.
  invalid_url: () => true,
  uri_too_long: (op) => op.pathParameters,
  malformed_request: () => false,
  headers_too_large: () => false,
  expectation_failed: () => false,
  request_timeout: (op) => op.readsBody,
  // Every authenticated operation refuses an unknown query parameter.
  invalid_query: (op) => op.parameters || op.authenticated,
  invalid_cursor: (op) => op.cursor,
  unauthorized: (op) => op.authenticated,
  forbidden: (op) => op.authenticated && op.declared.has('403'),
  upload_url_invalid: (op) => !op.authenticated && op.method === 'put',
  upload_url_expired: (op) => !op.authenticated && op.method === 'put',
  download_url_invalid: (op) => !op.authenticated && op.method === 'get' && op.declared.has('403'),
  download_url_expired: (op) => !op.authenticated && op.method === 'get' && op.declared.has('410'),
  not_found: (op) => op.pathParameters || op.declared.has('404'),
  route_not_found: () => false,
  method_not_allowed: () => false,
  idempotency_in_progress: (op) => op.idempotent,
  idempotency_key_reused: (op) => op.idempotent,
  payload_too_large: (op) => op.readsBody,
  unsupported_media_type: (op) => op.readsBody,
  // Also for a body nested too deep, refused whatever the route does with it.
  validation_failed: (op) => op.readsJson,
  rate_limited: () => true,
  internal_error: () => true,
  unavailable: () => true,
};

/** Bodies that are not JSON, which the route schemas cannot declare (Fastify would try to validate them). */
const RAW_BODIES: Record<string, NonNullable<Operation['requestBody']>> = {
  'PUT /v1/uploads/{token}': {
    description: 'The file, byte for byte, with the Content-Type declared when the upload URL was requested',
    required: true,
    content: { '*/*': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } },
  },
  'POST /v1/inbound/email': {
    description: 'One raw RFC 5322 message, byte for byte (8-bit and any charset)',
    required: true,
    content: { 'message/rfc822': { schema: { type: 'string', contentMediaType: 'message/rfc822' } } },
  },
};

const SUCCESS_DESCRIPTIONS: Record<string, string> = {
  '200': 'OK',
  '201': 'Created',
  '202': 'Accepted',
  '204': 'No content',
  '206': 'Partial content',
};

const IDEMPOTENCY_KEY: Parameter & Json = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'Makes a retry safe: for 24 hours the first response is replayed for the same key and token (Idempotent-Replayed: true); the same key with another request is a 422 idempotency_key_reused.',
  schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' },
};

const isProblemResponse = (r: Response | undefined) => !!r?.content && Object.values(r.content).some((m) => m.schema?.$ref === PROBLEM_REF);

function problemResponse(status: string, codes: string[], extra: Partial<Response> = {}): Response {
  const list = codes.map((c) => `\`${c}\``).join(', ');
  return {
    description: codes.length
      ? `Problem details (RFC 9457); \`code\` is ${codes.length > 1 ? 'one of ' : ''}${list}`
      : `Problem details (RFC 9457), status ${status}`,
    content: { [PROBLEM_MEDIA_TYPE]: { schema: { $ref: PROBLEM_REF } } },
    ...extra,
  };
}

/** Walks every schema-like object: string enums get `type: string`, which generators want. */
function normaliseSchemas(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) normaliseSchemas(item);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const schema = node as Schema;
  if (Array.isArray(schema.enum) && schema.type === undefined && schema.enum.every((v) => typeof v === 'string')) schema.type = 'string';
  for (const value of Object.values(schema)) normaliseSchemas(value);
}

/** A field with a default is filled in by the validator: for clients it is optional. */
function unrequireDefaulted(schema: Schema | undefined): void {
  if (!schema || typeof schema !== 'object') return;
  if (schema.properties && Array.isArray(schema.required)) {
    const props = schema.properties;
    schema.required = schema.required.filter((name) => props[name]?.default === undefined);
    if (schema.required.length === 0) delete schema.required;
  }
  for (const child of Object.values(schema.properties ?? {})) unrequireDefaulted(child);
}

function finishOperation(doc: OpenApiDocument, path: string, method: string, op: Operation): void {
  const key = `${method.toUpperCase()} ${path}`;
  op.operationId ??= OPERATION_IDS[key] ?? deriveOperationId(method, path);

  const rawBody = RAW_BODIES[key];
  if (rawBody && !op.requestBody) op.requestBody = rawBody;

  const parameters = op.parameters ?? [];
  for (const p of parameters) if (p.in !== 'path' && p.schema?.default !== undefined) p.required = false;
  for (const media of Object.values(op.requestBody?.content ?? {})) unrequireDefaulted(media.schema);

  const authenticated = (op.security ?? doc.security ?? []).length > 0;
  const idempotent = method === 'post' && authenticated;
  if (idempotent && !parameters.some((p) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key')) {
    op.parameters = [...parameters, { ...IDEMPOTENCY_KEY }];
  }

  const responses = (op.responses ??= {});
  const facts: OperationFacts = {
    method,
    readsBody: !!op.requestBody || BODY_METHODS.includes(method),
    readsJson: !!op.requestBody?.content?.['application/json'] || (!op.requestBody && BODY_METHODS.includes(method)),
    authenticated,
    idempotent,
    parameters: parameters.some((p) => p.in === 'path' || p.in === 'query'),
    pathParameters: parameters.some((p) => p.in === 'path'),
    cursor: parameters.some((p) => p.in === 'query' && p.name === 'after'),
    declared: new Set(Object.keys(responses)),
  };

  const codesByStatus = new Map<string, string[]>();
  for (const [code, entry] of Object.entries(errorCatalogue) as [ErrorCode, { status: number }][]) {
    const status = String(entry.status);
    const rule = PROBLEM_RULES[code];
    const applies = rule ? rule(facts) : isProblemResponse(responses[status]);
    if (applies) codesByStatus.set(status, [...(codesByStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of codesByStatus) {
    const declared = responses[status];
    if (declared && !isProblemResponse(declared)) continue; // a route's own non-problem answer (416 with no body)
    const extra: Partial<Response> =
      status === '429' ? { headers: { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer', minimum: 0 } } } } : {};
    responses[status] = { ...problemResponse(status, codes, extra), ...(declared?.headers ? { headers: declared.headers } : {}) };
  }
  // Declared problem statuses no rule reached keep their schema, as problem+json.
  for (const [status, response] of Object.entries(responses)) {
    if (Number(status) >= 400 && isProblemResponse(response) && !response.content?.[PROBLEM_MEDIA_TYPE]) {
      responses[status] = problemResponse(status, []);
    }
    if (response.description === 'Default Response' && SUCCESS_DESCRIPTIONS[status]) response.description = SUCCESS_DESCRIPTIONS[status];
  }
  // Every create answers with where the new resource lives (test/api/location-headers.test.ts holds routes to it).
  const created = responses['201'];
  if (created) created.headers = { Location: { description: 'The path of the created resource', schema: { type: 'string' } }, ...(created.headers ?? {}) };
  op.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
}

export interface WebhookEvent {
  type: string;
  /** The component schema of its body. */
  schemaId: string;
  summary: string;
}

/** One entry per event type: what NexusCore POSTs, and how it reads the answer. */
function webhookOperation(event: WebhookEvent, operationId: string): Operation & Json {
  const header = (name: string, description: string) => ({ name, in: 'header', required: true, description, schema: { type: 'string' } });
  return {
    operationId,
    summary: event.summary,
    tags: ['Webhooks'],
    security: [],
    description: 'Signed per Standard Webhooks; see docs/webhooks.md for verification, retries and ordering.',
    parameters: [
      header('webhook-id', 'The event id, the same on every attempt: drop duplicates by it'),
      header('webhook-timestamp', 'When this attempt was signed, in unix seconds'),
      header('webhook-signature', 'v1,<base64 HMAC-SHA256>; two, space-separated, for 24 hours after a secret rotation'),
    ],
    requestBody: { required: true, content: { 'application/json': { schema: { $ref: `#/components/schemas/${event.schemaId}` } } } },
    responses: {
      '2XX': { description: 'Any 2xx within 15 seconds acknowledges the event; anything else is retried on the schedule' },
      '410': { description: 'Gone: the endpoint is disabled at once' },
      '429': {
        description: 'Retried after Retry-After (capped at 24 hours) instead of the scheduled delay; 503 is read the same way',
        headers: { 'Retry-After': { description: 'Seconds, or an HTTP date', schema: { type: 'string' } } },
      },
    },
  };
}

/** Completes the document: see the comment at the top of this file. */
export function finishOpenApiDocument(doc: OpenApiDocument, options: { webhookEvents: WebhookEvent[] }): OpenApiDocument {
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) if (METHODS.includes(method)) finishOperation(doc, path, method, op);
  }
  // The catalogue is closed: say so, so that clients can switch on `code` exhaustively.
  const code = doc.components.schemas.Problem?.properties?.code;
  if (code) Object.assign(code, { type: 'string', enum: Object.keys(errorCatalogue) });
  doc.webhooks = Object.fromEntries(options.webhookEvents.map((e) => [e.type, { post: webhookOperation(e, `on${pascal(e.type.replace(/\./g, '_'))}`) }]));
  normaliseSchemas(doc.paths);
  normaliseSchemas(doc.components.schemas);
  normaliseSchemas(doc.webhooks);
  return doc;
}

/** The `transformObject` option of @fastify/swagger. */
export const completeOpenApiDocument =
  (options: { webhookEvents: WebhookEvent[] }): SwaggerTransformObject =>
  (documentObject) =>
    finishOpenApiDocument(
      (documentObject as unknown as { openapiObject: OpenApiDocument }).openapiObject,
      options,
    ) as unknown as ReturnType<SwaggerTransformObject>;
