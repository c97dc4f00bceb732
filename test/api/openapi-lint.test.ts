import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { TICKET_EVENT_TYPES } from '../../src/events/outbox.js';
import { errorCatalogue } from '../../src/http/problem.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';

/*
 * The OpenAPI document as third-party tools read it: Redocly's recommended rules, and the
 * properties client generators depend on.
 */

/**
 * Warnings we accept, each with its reason, as `rule-id: reason`. Empty: the document lints clean.
 * A new warning fails this test until it is fixed or listed here with a reason.
 */
const ALLOWED_WARNINGS: Record<string, string> = {};

/** Client generators name their methods after these: a rename breaks our users' code. */
const OPERATION_IDS = [
  'bulkUpdateTickets',
  'createAgent',
  'createAttachment',
  'createBrand',
  'createQueue',
  'createTicket',
  'createTicketMessage',
  'createToken',
  'createView',
  'createWebhook',
  'deactivateAgent',
  'deleteView',
  'deleteWebhook',
  'downloadAttachment',
  'eraseCustomer',
  'exportTickets',
  'getAgent',
  'getAttachment',
  'getBrand',
  'getCurrentToken',
  'getCustomer',
  'getHealth',
  'getQueue',
  'getReadiness',
  'getTicket',
  'getTicketMessage',
  'getToken',
  'getView',
  'getWebhook',
  'getWebhookDelivery',
  'listAgents',
  'listBrands',
  'listCustomerTickets',
  'listCustomers',
  'listEvents',
  'listQueueTickets',
  'listQueues',
  'listSimilarTickets',
  'listTicketAudit',
  'listTicketMessages',
  'listTickets',
  'listTokens',
  'listViewCounts',
  'listViewTickets',
  'listViews',
  'listWebhookDeliveries',
  'listWebhooks',
  'mergeTicket',
  'receiveEmail',
  'retryWebhookDelivery',
  'revokeToken',
  'rotateWebhookSecret',
  'searchTickets',
  'sendWebhookTest',
  'updateAgent',
  'updateBrand',
  'updateCustomer',
  'updateQueue',
  'updateTicket',
  'updateView',
  'updateWebhook',
  'uploadAttachment',
];

// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is walked as loose JSON
type Json = Record<string, any>;

function operations(doc: Json): { key: string; method: string; path: string; op: Json }[] {
  const out = [];
  for (const [path, item] of Object.entries(doc.paths as Json)) {
    for (const [method, op] of Object.entries(item as Json)) out.push({ key: `${method.toUpperCase()} ${path}`, method, path, op: op as Json });
  }
  return out;
}

describe('OpenAPI document, as third-party tools see it', () => {
  let t: TestApp;
  let doc: Json;
  let text: string;
  before(async () => {
    t = await buildTestApp();
    const res = await t.request({ method: 'GET', url: '/v1/openapi.json', token: null });
    assert.equal(res.statusCode, 200);
    text = res.body;
    doc = res.json();
  });
  after(() => t.close());

  it('passes the Redocly recommended rules with no error and no unexplained warning', async () => {
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({ source: text, absoluteRef: 'openapi.json', config });
    const describe = (p: (typeof problems)[number]) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location.map((l) => l.pointer).join(', ')}`;
    const errors = problems.filter((p) => p.severity === 'error');
    assert.deepEqual(errors.map(describe), [], 'no lint errors');
    const warnings = problems.filter((p) => p.severity === 'warn' && !(p.ruleId in ALLOWED_WARNINGS));
    assert.deepEqual(warnings.map(describe), [], 'no lint warnings outside the allow-list');
  });

  it('names every operation with a stable, unique camelCase operationId', () => {
    const ids = operations(doc).map(({ key, op }) => {
      assert.match(String(op.operationId), /^[a-z][A-Za-z]+$/, `${key} has a camelCase operationId`);
      return op.operationId as string;
    });
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
    assert.deepEqual([...ids].sort(), OPERATION_IDS);
  });

  it('documents every error as application/problem+json, with the shared errors where they can occur', () => {
    for (const { key, method, op } of operations(doc)) {
      const responses = op.responses as Json;
      for (const [status, response] of Object.entries(responses)) {
        if (Number(status) < 400 || !(response as Json).content) continue;
        assert.deepEqual(Object.keys((response as Json).content), ['application/problem+json'], `${key} ${status}`);
        assert.equal((response as Json).content['application/problem+json'].schema.$ref, '#/components/schemas/Problem');
      }
      for (const status of ['429', '500', '503']) assert.ok(responses[status], `${key} documents ${status}`);
      const jsonBody = !!op.requestBody?.content?.['application/json'];
      if (jsonBody) {
        for (const status of ['400', '413', '415', '422']) assert.ok(responses[status], `${key} documents ${status}`);
        assert.match(responses['400'].description, /invalid_json/, `${key}: 400 names invalid_json`);
      }
      const authenticated = (op.security ?? doc.security).length > 0;
      if (authenticated) assert.ok(responses['401'], `${key} documents 401`);
      if (method === 'post' && authenticated) {
        assert.match(responses['422'].description, /idempotency_key_reused/, `${key}: 422 names idempotency_key_reused`);
        assert.match(responses['409'].description, /idempotency_in_progress/, `${key}: 409 names idempotency_in_progress`);
        assert.ok(
          (op.parameters as Json[]).some((p) => p.in === 'header' && p.name === 'Idempotency-Key'),
          `${key} documents Idempotency-Key`,
        );
      }
    }
    const problem = doc.components.schemas.Problem;
    assert.deepEqual([...problem.properties.code.enum].sort(), Object.keys(errorCatalogue).sort(), 'Problem.code lists the catalogue');
  });

  it('marks parameters and body fields with a default as optional', () => {
    const listTickets = doc.paths['/v1/tickets'].get;
    assert.equal(listTickets.parameters.find((p: Json) => p.name === 'limit').required, false);
    for (const { key, op } of operations(doc)) {
      for (const p of (op.parameters ?? []) as Json[]) {
        if (p.schema?.default !== undefined) assert.notEqual(p.required, true, `${key} ${p.name} has a default`);
      }
      const body = op.requestBody?.content?.['application/json']?.schema as Json | undefined;
      for (const name of body?.required ?? []) assert.equal(body!.properties[name].default, undefined, `${key} body field ${name} has a default`);
    }
    assert.ok(!(doc.paths['/v1/tickets/search'].post.requestBody.content['application/json'].schema.required as string[]).includes('limit'));
  });

  it('types the event log and audit changes instead of leaving them unknown', () => {
    const eventItems = doc.paths['/v1/events'].get.responses['200'].content['application/json'].schema.properties.data.items;
    const refs = (eventItems.anyOf ?? eventItems.oneOf).map((s: Json) => s.$ref);
    assert.deepEqual(refs.length, TICKET_EVENT_TYPES.length);
    for (const ref of refs) assert.ok(doc.components.schemas[ref.split('/').pop()], `${ref} exists`);
    const change = doc.components.schemas.AuditEntry.properties.changes.additionalProperties;
    assert.equal(change.properties.from.$ref, '#/components/schemas/JsonValue');
    assert.equal(change.properties.to.$ref, '#/components/schemas/JsonValue');
    const branches = doc.components.schemas.JsonValue.anyOf.map((s: Json) => s.type).sort();
    assert.deepEqual(branches, ['array', 'boolean', 'null', 'number', 'object', 'string']);
    const ranges = doc.components.schemas;
    assert.ok(!JSON.stringify(ranges).includes('"additionalItems"'), 'no draft-07 tuples');
  });

  it('describes every webhook event payload in the webhooks section', () => {
    const types = Object.keys(doc.webhooks).sort();
    assert.deepEqual(types, [...TICKET_EVENT_TYPES, 'webhook.test'].sort());
    for (const type of types) {
      const op = doc.webhooks[type].post;
      const ref: string = op.requestBody.content['application/json'].schema.$ref;
      const schema = doc.components.schemas[ref.split('/').pop()!];
      assert.deepEqual(schema.properties.type.enum ?? [schema.properties.type.const], [type], `${type} payload names its type`);
      assert.deepEqual(schema.required, ['id', 'type', 'timestamp', 'data']);
      assert.ok(op.parameters.some((p: Json) => p.name === 'webhook-signature'));
    }
  });

  it('says what the server enforces: tag length and pattern, URL format, enums', () => {
    const create = doc.paths['/v1/tickets'].post.requestBody.content['application/json'].schema;
    assert.deepEqual(
      { ...create.properties.tags.items, description: undefined },
      { type: 'string', minLength: 1, maxLength: 64, pattern: '\\S', description: undefined },
    );
    const webhook = doc.paths['/v1/webhooks'].post.requestBody.content['application/json'].schema;
    assert.equal(webhook.properties.url.format, 'uri');
    assert.deepEqual(webhook.properties.events.items.enum, [...TICKET_EVENT_TYPES, '*']);
    assert.equal(doc.components.schemas.Ticket.properties.status.type, 'string', 'string enums carry their type');
  });
});
