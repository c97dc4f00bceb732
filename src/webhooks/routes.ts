import { Type } from 'typebox';
import { principalOf } from '../http/auth.js';
import { type App, errorResponses, pageSchema } from '../http/types.js';
import {
  CreateWebhookBody,
  DeliveryParams,
  DeliverySchema,
  ListDeliveriesQuery,
  ListWebhooksQuery,
  UpdateWebhookBody,
  WebhookParams,
  WebhookSchema,
  WebhookWithSecretSchema,
} from './schemas.js';
import type { WebhookService } from './service.js';

const tags = ['Webhooks'];

export function webhookRoutes(app: App, webhooks: WebhookService): void {
  app.post(
    '/v1/webhooks',
    {
      config: { scope: 'webhooks:manage', brands: 'body' },
      schema: {
        tags,
        summary: 'Register a webhook endpoint',
        description:
          'Events are POSTed to the URL, signed per Standard Webhooks with the returned secret. The secret is shown only in this answer (and on rotation).',
        body: CreateWebhookBody,
        response: { 201: WebhookWithSecretSchema, ...errorResponses(422) },
      },
    },
    async (request, reply) => {
      const created = await webhooks.create(principalOf(request), request.body);
      return reply.status(201).header('Location', `/v1/webhooks/${created.id}`).send(created);
    },
  );

  app.get(
    '/v1/webhooks',
    {
      config: { scope: 'webhooks:manage', brands: 'filter' },
      schema: { tags, summary: 'List webhook endpoints', querystring: ListWebhooksQuery, response: { 200: pageSchema(WebhookSchema), ...errorResponses(400) } },
    },
    async (request) => webhooks.list(principalOf(request), request.query),
  );

  app.get(
    '/v1/webhooks/:webhook_id',
    {
      config: { scope: 'webhooks:manage', brands: 'resource' },
      schema: { tags, summary: 'Retrieve a webhook endpoint', params: WebhookParams, response: { 200: WebhookSchema, ...errorResponses(404) } },
    },
    async (request) => webhooks.get(principalOf(request), request.params.webhook_id),
  );

  app.patch(
    '/v1/webhooks/:webhook_id',
    {
      config: { scope: 'webhooks:manage', brands: 'resource' },
      schema: {
        tags,
        summary: 'Update a webhook endpoint',
        description: 'Partial update. Set enabled to true to re-enable an endpoint that was disabled; its paused deliveries resume.',
        params: WebhookParams,
        body: UpdateWebhookBody,
        response: { 200: WebhookSchema, ...errorResponses(404, 422) },
      },
    },
    async (request) => webhooks.update(principalOf(request), request.params.webhook_id, request.body),
  );

  app.delete(
    '/v1/webhooks/:webhook_id',
    {
      config: { scope: 'webhooks:manage', brands: 'resource' },
      schema: {
        tags,
        summary: 'Delete a webhook endpoint and its delivery log',
        params: WebhookParams,
        response: { 204: Type.Null(), ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      await webhooks.remove(principalOf(request), request.params.webhook_id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/v1/webhooks/:webhook_id/rotate-secret',
    {
      config: { scope: 'webhooks:manage', brands: 'resource' },
      schema: {
        tags,
        summary: 'Rotate the signing secret',
        description: 'Returns the new secret. For 24 hours requests carry two signatures, one per secret, so receivers can switch without dropping events.',
        params: WebhookParams,
        response: { 200: WebhookWithSecretSchema, ...errorResponses(404) },
      },
    },
    async (request) => webhooks.rotateSecret(principalOf(request), request.params.webhook_id),
  );

  app.post(
    '/v1/webhooks/:webhook_id/test',
    {
      config: { scope: 'webhooks:manage', brands: 'resource' },
      schema: {
        tags,
        summary: 'Send a webhook.test event',
        description: 'Queues a webhook.test event for this endpoint alone; follow it in the delivery log.',
        params: WebhookParams,
        response: { 202: DeliverySchema, ...errorResponses(404, 409) },
      },
    },
    async (request, reply) => reply.status(202).send(await webhooks.sendTest(principalOf(request), request.params.webhook_id)),
  );

  app.get(
    '/v1/webhooks/:webhook_id/deliveries',
    {
      config: { scope: 'webhooks:manage', brands: 'resource' },
      schema: {
        tags,
        summary: 'The delivery log',
        description:
          'Newest first: every delivery with every attempt (time, HTTP status or network error, duration, first 1 KB of the response, next attempt).',
        params: WebhookParams,
        querystring: ListDeliveriesQuery,
        response: { 200: pageSchema(DeliverySchema), ...errorResponses(400, 404) },
      },
    },
    async (request) => webhooks.listDeliveries(principalOf(request), request.params.webhook_id, request.query),
  );

  app.get(
    '/v1/webhooks/:webhook_id/deliveries/:delivery_id',
    {
      config: { scope: 'webhooks:manage', brands: 'resource' },
      schema: { tags, summary: 'Retrieve a delivery with its attempts', params: DeliveryParams, response: { 200: DeliverySchema, ...errorResponses(404) } },
    },
    async (request) => webhooks.getDelivery(principalOf(request), request.params.webhook_id, request.params.delivery_id),
  );

  app.post(
    '/v1/webhooks/:webhook_id/deliveries/:delivery_id/retry',
    {
      config: { scope: 'webhooks:manage', brands: 'resource' },
      schema: {
        tags,
        summary: 'Re-send a delivery now',
        description: 'Whatever its status. 409 while an attempt is in flight or the endpoint is disabled.',
        params: DeliveryParams,
        response: { 202: DeliverySchema, ...errorResponses(404, 409) },
      },
    },
    async (request, reply) => reply.status(202).send(await webhooks.retryDelivery(principalOf(request), request.params.webhook_id, request.params.delivery_id)),
  );
}
