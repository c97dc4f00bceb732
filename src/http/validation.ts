import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';
import { isDateOrDateTime, isDateTime } from '../shared/clock.js';
import type { FieldError } from './problem.js';

/*
 * Two validators: bodies are checked strictly as sent (no type coercion, unknown fields rejected,
 * every error reported), while query strings and path params are coerced from text and unknown
 * query parameters are ignored.
 */
function makeAjv(options: Options): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true, ...options });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  // Dates are checked by the same parser the services read them with, so a value the schema passes
  // is one the server can store and show back: a real calendar day and time, a four-digit UTC year.
  ajv.addFormat('date-time', isDateTime);
  ajv.addFormat('date-or-date-time', isDateOrDateTime);
  return ajv;
}

export function createValidatorCompiler(sharedSchemas: object[]): FastifySchemaCompiler<FastifySchema> {
  const bodyAjv = makeAjv({ coerceTypes: false, removeAdditional: false });
  const textAjv = makeAjv({ coerceTypes: 'array', removeAdditional: 'all' });
  for (const schema of sharedSchemas) {
    bodyAjv.addSchema(schema);
    textAjv.addSchema(schema);
  }
  return ({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : textAjv).compile(schema as object);
}

const checkAjv = makeAjv({ coerceTypes: false, removeAdditional: false, useDefaults: false });
const checks = new WeakMap<object, (value: unknown) => FieldError[]>();

/**
 * A checker for a value the server built (normalised input it is about to store) against a schema,
 * with the same formats as requests. Services use it to refuse, before writing, a row that the
 * response schema would later refuse to serialize. Pointers are relative to the checked value.
 */
export function schemaCheck(schema: object): (value: unknown) => FieldError[] {
  let check = checks.get(schema);
  if (!check) {
    const validate = checkAjv.compile(schema);
    check = (value) =>
      validate(value) ? [] : (validate.errors ?? []).map((e) => ({ pointer: e.instancePath || '/', message: e.message ?? 'is invalid' }));
    checks.set(schema, check);
  }
  return check;
}
