import { Type } from 'typebox';

/**
 * Any JSON value, spelled as the union it is, so that client generators render a real type
 * (`string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }`) where a bare
 * `{}` would give them `unknown`. The branches are disjoint, so anyOf never matches twice.
 * Its TypeScript type stays `unknown`: callers narrow it themselves.
 */
export const JsonValueSchema = Type.Unsafe<unknown>({
  $id: 'JsonValue',
  description: 'Any JSON value',
  anyOf: [
    { type: 'string' },
    { type: 'number' },
    { type: 'boolean' },
    { type: 'null' },
    { type: 'array', items: { $ref: 'JsonValue' } },
    { type: 'object', additionalProperties: { $ref: 'JsonValue' } },
  ],
});

export const JsonValue = (description?: string) => Type.Unsafe<unknown>({ $ref: 'JsonValue', ...(description ? { description } : {}) });
