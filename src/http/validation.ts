import { Ajv, type Options, type ValidateFunction } from 'ajv';
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
  return ({ schema, httpPart }) => capErrors((httpPart === 'body' ? bodyAjv : textAjv).compile(schema as object));
}

/** At most this many validation errors reach the client: a 1 MiB array of wrong items is one problem, not 40 MB of them. */
export const MAX_VALIDATION_ERRORS = 20;

function capErrors(validate: ValidateFunction): ValidateFunction {
  const capped = ((data: unknown, context?: Parameters<ValidateFunction>[1]) => {
    const ok = validate(data, context);
    const errors = validate.errors;
    capped.errors =
      errors && errors.length > MAX_VALIDATION_ERRORS
        ? [
            ...errors.slice(0, MAX_VALIDATION_ERRORS),
            { instancePath: '', schemaPath: '#', keyword: 'truncated', params: {}, message: `and ${errors.length - MAX_VALIDATION_ERRORS} more errors` },
          ]
        : (errors ?? null);
    return ok;
  }) as ValidateFunction;
  // Fastify passes the parent object (so that Ajv may replace a root value) only to functions that carry schemaEnv.
  return Object.assign(capped, { schema: validate.schema, schemaEnv: validate.schemaEnv });
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
    check = (value) => (validate(value) ? [] : (validate.errors ?? []).map((e) => ({ pointer: e.instancePath || '/', message: e.message ?? 'is invalid' })));
    checks.set(schema, check);
  }
  return check;
}
