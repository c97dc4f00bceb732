import { Type } from 'typebox';
import { Cursor, Limit, Timestamp } from '../http/types.js';
import { DELIVERY_STATUSES, SUBSCRIBABLE_EVENT_TYPES } from './model.js';

const literals = <const T extends readonly string[]>(values: T, description: string) => Type.Unsafe<T[number]>(Type.Enum([...values], { description }));

export const WebhookParams = Type.Object({ webhook_id: Type.String({ description: 'A webhook endpoint id, wh_…' }) });
export const DeliveryParams = Type.Object({
  webhook_id: Type.String({ description: 'A webhook endpoint id, wh_…' }),
  delivery_id: Type.String({ description: 'A delivery id, dlv_…' }),
});

// What checkUrl accepts, said in the schema so that clients know it: an absolute http(s) URL with
// no user:password@ in it. (The address checks run in the service, at save and at send time.)
const Url = Type.String({
  minLength: 1,
  maxLength: 2048,
  format: 'uri',
  pattern: '^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@]+([/?#].*)?$',
  description: 'An absolute http or https URL that accepts POST, without credentials',
});
const EventType = Type.Unsafe<string>(Type.Enum([...SUBSCRIBABLE_EVENT_TYPES, '*']));
const Events = Type.Array(EventType, {
  minItems: 1,
  maxItems: 20,
  description: `Event types to receive, or ["*"] for all: ${SUBSCRIBABLE_EVENT_TYPES.join(', ')}`,
});
const BrandIds = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
  minItems: 1,
  maxItems: 100,
  description: 'Only events of these brands; omitted: every brand the token can see',
});
const Description = Type.Union([Type.String({ maxLength: 500 }), Type.Null()]);

export const CreateWebhookBody = Type.Object(
  {
    url: Url,
    events: Events,
    brand_ids: Type.Optional(BrandIds),
    description: Type.Optional(Description),
    enabled: Type.Optional(Type.Boolean({ default: true })),
  },
  { additionalProperties: false },
);

export const UpdateWebhookBody = Type.Object(
  {
    url: Type.Optional(Url),
    events: Type.Optional(Events),
    brand_ids: Type.Optional(Type.Union([BrandIds, Type.Null()], { description: 'null: every brand (unrestricted tokens only)' })),
    description: Type.Optional(Description),
    enabled: Type.Optional(Type.Boolean({ description: 'true re-enables a disabled endpoint; its paused deliveries resume' })),
  },
  { additionalProperties: false },
);

const webhookProperties = {
  id: Type.String(),
  url: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  events: Type.Array(Type.String()),
  brand_ids: Type.Union([Type.Array(Type.String()), Type.Null()], { description: 'null: every brand' }),
  enabled: Type.Boolean(),
  disabled_reason: Type.Union([Type.String(), Type.Null()], {
    description: 'manual, gone (the endpoint answered 410) or failing (every attempt failed for 5 days)',
  }),
  failing_since: Type.Union([Timestamp, Type.Null()], {
    description: 'When the current run of failed attempts began; null while the endpoint is healthy',
  }),
  previous_secret_expires_at: Type.Union([Timestamp, Type.Null()], {
    description: 'After a rotation, until when the previous secret still signs beside the new one',
  }),
  created_at: Timestamp,
  updated_at: Timestamp,
};

export const WebhookSchema = Type.Object(webhookProperties);
export const WebhookWithSecretSchema = Type.Object({
  ...webhookProperties,
  secret: Type.String({ description: 'whsec_…: verify signatures with it. Shown only here; store it now.' }),
});

export const AttemptSchema = Type.Object({
  attempt: Type.Integer({ minimum: 1 }),
  attempted_at: Timestamp,
  status_code: Type.Union([Type.Integer(), Type.Null()], { description: 'null when no response came (see error)' }),
  error: Type.Union([Type.String(), Type.Null()], { description: 'The network error: refused, timed out, destination refused…' }),
  duration_ms: Type.Integer({ minimum: 0 }),
  response_body: Type.Union([Type.String(), Type.Null()], { description: 'The first kilobyte of the response body' }),
  next_attempt_at: Type.Union([Timestamp, Type.Null()], { description: 'When this attempt scheduled the next; null when none' }),
});

export const DeliverySchema = Type.Object({
  id: Type.String(),
  webhook_id: Type.String(),
  event_id: Type.String({ description: 'Sent as the webhook-id header, the same on every attempt' }),
  event_type: Type.String(),
  status: literals(DELIVERY_STATUSES, 'pending, succeeded or failed'),
  attempt_count: Type.Integer({ minimum: 0 }),
  next_attempt_at: Type.Union([Timestamp, Type.Null()]),
  created_at: Timestamp,
  updated_at: Timestamp,
  attempts: Type.Array(AttemptSchema),
});

export const ListWebhooksQuery = Type.Object({ limit: Limit(100, 25), after: Type.Optional(Cursor) }, { additionalProperties: false });

export const ListDeliveriesQuery = Type.Object(
  {
    status: Type.Optional(literals(DELIVERY_STATUSES, 'pending, succeeded or failed')),
    limit: Limit(100, 25),
    after: Type.Optional(Cursor),
  },
  { additionalProperties: false },
);
