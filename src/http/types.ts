import type { FastifyBaseLogger, FastifyInstance, FastifyReply, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from 'typebox';

export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

/** The problem+json responses every authenticated route may give, referenced by schema id. */
const problemRef = Type.Ref('Problem');
export const authErrors = { 401: problemRef, 403: problemRef };
export const errorResponses = (...statuses: number[]): Record<number, TSchema> => {
  const out: Record<number, TSchema> = { ...authErrors };
  for (const s of statuses) out[s] = problemRef;
  return out;
};

export const Email = Type.String({ format: 'email', maxLength: 254 });
export const Timestamp = Type.String({ format: 'date-time', description: 'RFC 3339 UTC instant, e.g. 2025-10-04T18:32:11Z' });
export const DateOrTimestamp = Type.String({
  format: 'date-or-date-time',
  maxLength: 64,
  description:
    'A date (2025-09-01, midnight UTC) or an RFC 3339 date-time (seconds optional). Must be a real calendar day and time: 2025-02-30, 2025-13-01, 24:00:00 and 29 February of a common year are refused.',
});
export const Limit = (max: number, dflt: number) => Type.Integer({ minimum: 1, maximum: max, default: dflt });
export const Cursor = Type.String({ minLength: 1, maxLength: 2048, description: 'The next_cursor of the previous page' });
export const NullableCursor = Type.Union([Type.String(), Type.Null()], {
  description: 'Pass as `after` to get the next page; null on the last page',
});

/** The shape of every paginated list: `{data, next_cursor}`. */
export const pageSchema = <T extends TSchema>(item: T) => Type.Object({ data: Type.Array(item), next_cursor: NullableCursor });

/**
 * A serializer of the route for a schema of its own (fast-json-stringify, compiled on first use and
 * kept per route): for a route that assembles its response from parts serialized separately.
 */
export function serializerOf(reply: FastifyReply, schema: TSchema): (doc: unknown) => string {
  return reply.compileSerializationSchema(schema as unknown as Record<string, unknown>) as (doc: unknown) => string;
}

/** Sends JSON that the route's schemas have already produced (text or its UTF-8 bytes), as it is. */
export function sendSerialized(reply: FastifyReply, json: string | Buffer): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(json);
}
