import { Ajv, type Options, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance, FastifySchema, FastifySchemaCompiler, RouteOptions } from 'fastify';
import { isDateOrDateTime, isDateTime } from '../shared/clock.js';
import type { FieldError } from './problem.js';

/*
 * Three validators: bodies are checked strictly as sent (no type coercion, unknown fields rejected,
 * every error reported); query strings are coerced from text (a repeated parameter is an array)
 * and an unknown parameter is refused like an unknown body field, so a typo in a filter never
 * lists everything; path params and headers are coerced from text.
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
  const queryAjv = makeAjv({ coerceTypes: 'array', removeAdditional: false });
  const textAjv = makeAjv({ coerceTypes: 'array', removeAdditional: 'all' });
  for (const schema of sharedSchemas) {
    bodyAjv.addSchema(schema);
    queryAjv.addSchema(schema);
    textAjv.addSchema(schema);
  }
  return ({ schema, httpPart }) => {
    if (httpPart === 'body') return capErrors(bodyAjv.compile(schema as object));
    if (httpPart === 'querystring') return capErrors(namingUnknownParameters(queryAjv.compile(strictQuery(schema as QuerySchema)), schema as QuerySchema));
    return capErrors(textAjv.compile(schema as object));
  };
}

interface QuerySchema {
  type?: string;
  properties?: Record<string, unknown>;
  additionalProperties?: unknown;
}

/** A query schema that does not say otherwise refuses parameters it does not declare. */
function strictQuery(schema: QuerySchema): object {
  return schema.type === 'object' && schema.additionalProperties === undefined ? { ...schema, additionalProperties: false } : schema;
}

/**
 * Every authenticated route refuses query parameters it does not declare, those that declare none
 * included (they get a schema that accepts none). Public routes (health, the documents, signed
 * URLs) keep ignoring them: caches and proxies add their own. Register before any route.
 */
export function registerStrictQueries(app: FastifyInstance): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    const scope = route.config?.scope;
    if (scope === undefined || scope === 'public') return;
    // Mutated in place: the OpenAPI generator keeps a reference to this route's schema.
    const schema = (route.schema ??= {}) as Record<string, unknown>;
    schema.querystring ??= { type: 'object', properties: {}, additionalProperties: false };
  });
}

/**
 * Turns "must NOT have additional properties" into an error that names the parameter and lists
 * the known ones, so that `?tags=x` on a route that takes `tag` says what to send instead.
 */
function namingUnknownParameters(validate: ValidateFunction, schema: QuerySchema): ValidateFunction {
  const known = Object.keys(schema.properties ?? {});
  const hint = known.length ? `known parameters: ${known.join(', ')}` : 'this operation takes no query parameters';
  const named = ((data: unknown, context?: Parameters<ValidateFunction>[1]) => {
    const ok = validate(data, context);
    named.errors =
      validate.errors?.map((e) =>
        e.keyword === 'additionalProperties' && e.instancePath === ''
          ? { ...e, keyword: 'unknownParameter', instancePath: `/${String(e.params.additionalProperty)}`, message: `is not a known query parameter (${hint})` }
          : e,
      ) ?? null;
    return ok;
  }) as ValidateFunction;
  return Object.assign(named, { schema: validate.schema, schemaEnv: validate.schemaEnv });
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
