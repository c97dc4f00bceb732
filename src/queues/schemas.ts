import { Type } from 'typebox';
import { Timestamp } from '../http/types.js';
import { LIMITS, OriginSchema, PrioritySchema } from '../shared/ticket-fields.js';

/*
 * The queue schemas, shared by the routes (requests and responses) and the service, which checks
 * every queue it is about to write against QueueSchema: what the store holds always serializes.
 */
export const Match = Type.Object(
  {
    tags: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: LIMITS.tagMax }), {
        minItems: 1,
        maxItems: LIMITS.tagsMax,
        description: `Any of these tags; trimmed, lower-cased and de-duplicated, each 1-${LIMITS.tagMax} characters after that`,
      }),
    ),
    priority: Type.Optional(Type.Array(PrioritySchema, { minItems: 1, description: 'Priority in this list' })),
    origin: Type.Optional(Type.Array(OriginSchema, { minItems: 1, description: 'Origin in this list' })),
  },
  { additionalProperties: false, description: 'Every key given must hold; within a key, any value matches' },
);

export const QueueSchema = Type.Object(
  {
    id: Type.String(),
    brand_id: Type.String(),
    name: Type.String(),
    match: Type.Union([Match, Type.Null()], {
      description: 'null on the default queue; on a routing queue, null means it matches no ticket (see docs/api.md)',
    }),
    order: Type.Integer({ description: 'Routing queues are tried in ascending order; the default queue is last' }),
    is_default: Type.Boolean(),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'Queue' },
);
