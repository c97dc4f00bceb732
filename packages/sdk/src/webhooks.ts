import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import type { webhooks } from './openapi-types.js';

export { WebhookVerificationError };

/** The body of a webhook delivery: one of the events of the OpenAPI document's `webhooks` section. */
export type WebhookEvent = {
  [Type in keyof webhooks]: webhooks[Type]['post'] extends { requestBody: { content: { 'application/json': infer Body } } } ? Body : never;
}[keyof webhooks];

/** A delivery's headers as a framework hands them over: fetch `Headers`, or Node's `req.headers`. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

const SIGNED_HEADERS = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;

/**
 * Checks that a delivery came from NexusCore (Standard Webhooks v1: HMAC-SHA256 over
 * `{webhook-id}.{webhook-timestamp}.{body}` keyed with the endpoint's `whsec_…` secret, signed at
 * most 5 minutes ago) and returns its event. Pass the raw body, before any JSON parsing: a body
 * parsed and written again no longer matches. Throws `WebhookVerificationError` otherwise.
 * During the 24 h after a rotation a delivery carries two signatures; either secret verifies it.
 * Drop duplicates by `event.id` (the `webhook-id`): delivery is at least once.
 */
export function verifyWebhook(secret: string, body: string | Uint8Array, headers: WebhookHeaders): WebhookEvent {
  const signed: Record<string, string> = {};
  for (const name of SIGNED_HEADERS) {
    const value = headerValue(headers, name);
    if (value !== undefined) signed[name] = value;
  }
  const payload = typeof body === 'string' ? body : new TextDecoder('utf-8', { fatal: true }).decode(body);
  return new Webhook(secret).verify(payload, signed) as WebhookEvent;
}

function headerValue(headers: WebhookHeaders, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name || value === undefined) continue;
    return Array.isArray(value) ? value.join(' ') : value;
  }
  return undefined;
}
