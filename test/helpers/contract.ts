import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { InjectOptions } from 'fastify';
import { errorCatalogue } from '../../src/http/problem.js';
import type { App } from '../../src/http/types.js';

/*
 * The contract test: every response the test suite sees is checked against the app's own OpenAPI
 * document. The operation is found from the method and the concrete URL (matched to the path
 * templates, literal segments first); its status must be documented, its Content-Type one the
 * document lists for that status, and a JSON body must satisfy the schema, $refs resolved.
 * A response to a path the document does not describe (404, 405, the hidden /docs and /dashboard
 * routes) is checked only when it is an error: it must be a problem.
 */

export interface ObservedResponse {
  method: string;
  url: string;
  statusCode: number;
  headers: Record<string, unknown>;
  /** The body as received; undefined when it was not kept (large or streamed). */
  body: Buffer | string | undefined;
}

interface MediaType {
  schema?: object;
}
interface Response {
  content?: Record<string, MediaType>;
}
interface Operation {
  operationId?: string;
  responses?: Record<string, Response>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
}

interface PathTemplate {
  template: string;
  pattern: RegExp;
  literals: number;
}

const DOC_ID = 'nexus-openapi';
const pointerToken = (s: string) => encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'));
const isJson = (mediaType: string) => mediaType === 'application/json' || mediaType.endsWith('+json');

function mediaTypeMatches(range: string, actual: string): boolean {
  if (range === '*/*' || range === actual) return true;
  return range.endsWith('/*') && actual.startsWith(range.slice(0, -1));
}

/** Drops `$id`s so that every `#/…` reference resolves against the document itself. */
function withoutIds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutIds);
  if (!node || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([k]) => k !== '$id')
      .map(([k, v]) => [k, withoutIds(v)]),
  );
}

export interface ContractValidator {
  /** The first way the response breaks the document, as a sentence naming the operation; undefined when it keeps it. */
  check(response: ObservedResponse): string | undefined;
}

export function createContractValidator(document: object): ContractValidator {
  const doc = withoutIds(document) as Document;
  const ajv = new Ajv2020({ strict: false, allErrors: false, validateSchema: false });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  ajv.addSchema(doc, DOC_ID);
  const compiled = new Map<string, ValidateFunction>();
  const validatorFor = (pointer: string[]) => {
    const ref = `${DOC_ID}#/${pointer.map(pointerToken).join('/')}`;
    let validate = compiled.get(ref);
    if (!validate) {
      validate = ajv.compile({ $ref: ref });
      compiled.set(ref, validate);
    }
    return validate;
  };
  const problemValidator = () => validatorFor(['components', 'schemas', 'Problem']);

  const templates: PathTemplate[] = Object.keys(doc.paths)
    .map((template) => {
      const segments = template.split('/');
      const source = segments.map((s) => (/^\{.+\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))).join('/');
      return { template, pattern: new RegExp(`^${source}/?$`), literals: segments.filter((s) => s && !s.startsWith('{')).length };
    })
    .sort((a, b) => b.literals - a.literals);

  function checkProblem(label: string, res: ObservedResponse, body: unknown): string | undefined {
    if (!problemValidator()(body)) return `${label}: the problem body does not match Problem: ${describe(problemValidator())}`;
    const problem = body as { status: number; code: string };
    if (problem.status !== res.statusCode) return `${label}: the problem says status ${problem.status}`;
    const entry = (errorCatalogue as Record<string, { status: number }>)[problem.code];
    if (!entry) return `${label}: code ${problem.code} is not in the error catalogue`;
    if (entry.status !== res.statusCode) return `${label}: code ${problem.code} belongs to status ${entry.status} in the catalogue`;
    return undefined;
  }

  function parse(label: string, text: string): { value?: unknown; error?: string } {
    try {
      return { value: JSON.parse(text) };
    } catch {
      return { error: `${label}: the body is not JSON: ${text.slice(0, 200)}` };
    }
  }

  return {
    check(res) {
      const method = res.method.toUpperCase();
      const path = res.url.split('?')[0] ?? '';
      const contentType = String(res.headers['content-type'] ?? '')
        .split(';')[0]!
        .trim()
        .toLowerCase();
      const text = res.body === undefined ? undefined : typeof res.body === 'string' ? res.body : res.body.toString('utf8');
      const matched = templates.find((t) => t.pattern.test(path));
      const opMethod = (method === 'HEAD' ? 'GET' : method).toLowerCase();
      const operation = matched ? doc.paths[matched.template]![opMethod] : undefined;

      if (!matched || !operation) {
        const label = `${method} ${path} (not in the document) answered ${res.statusCode}`;
        if (res.statusCode < 400) {
          // Hidden routes (docs, dashboard, CORS preflight) are not part of the API contract; any
          // other answer to an undocumented operation is an undocumented operation.
          if (!matched || method === 'OPTIONS') return undefined;
          return `${label}: the operation is not documented`;
        }
        if (contentType !== 'application/problem+json') return `${label}: an error must be application/problem+json, got ${contentType || 'no Content-Type'}`;
        if (text === undefined || method === 'HEAD') return undefined;
        const parsed = parse(label, text);
        return parsed.error ?? checkProblem(label, res, parsed.value);
      }

      const label = `${method} ${matched.template} (${operation.operationId ?? 'no operationId'}) answered ${res.statusCode}`;
      const responses = operation.responses ?? {};
      const status = String(res.statusCode);
      const key = [status, `${status[0]}XX`, 'default'].find((k) => responses[k]);
      if (!key) return `${label}: status ${status} is not documented (documented: ${Object.keys(responses).join(', ')})`;
      const content = responses[key]!.content;
      if (!content) {
        if (text && method !== 'HEAD') return `${label}: the document says no body, got ${text.slice(0, 200)}`;
        return undefined;
      }
      const mediaKey = Object.keys(content).find((range) => mediaTypeMatches(range, contentType));
      if (!mediaKey) return `${label}: Content-Type ${contentType || '(none)'} is not documented (documented: ${Object.keys(content).join(', ')})`;
      if (res.statusCode >= 400 && contentType !== 'application/problem+json') return `${label}: an error must be application/problem+json`;
      if (!isJson(mediaKey) || text === undefined || method === 'HEAD' || content[mediaKey]!.schema === undefined) return undefined;
      const parsed = parse(label, text);
      if (parsed.error) return parsed.error;
      const validate = validatorFor(['paths', matched.template, opMethod, 'responses', key, 'content', mediaKey, 'schema']);
      if (!validate(parsed.value)) return `${label}: the body does not match the documented schema: ${describe(validate)}`;
      if (contentType === 'application/problem+json') return checkProblem(label, res, parsed.value);
      return undefined;
    },
  };
}

function describe(validate: ValidateFunction): string {
  const e = validate.errors?.[0];
  if (!e) return 'invalid';
  return `${e.instancePath || '/'} ${e.message ?? e.keyword} (${e.schemaPath})`;
}

const validators = new Map<string, ContractValidator>();

/**
 * Makes every test a contract test: each response of `app.inject` (and so of `request`) is checked
 * against the app's own OpenAPI document, and a mismatch fails the request that caused it. Over a
 * real listening server (`app.listen`) mismatches are collected and fail `close()`.
 */
export function enforceContract(app: App): { assertNoViolations(): void } {
  const document = JSON.stringify(app.swagger());
  let validator = validators.get(document);
  if (!validator) {
    validator = createContractValidator(JSON.parse(document) as object);
    validators.set(document, validator);
  }
  const check = validator.check;

  const inject = app.inject.bind(app);
  app.inject = ((opts?: InjectOptions | string, callback?: unknown) => {
    if (opts === undefined || callback !== undefined) return (inject as (...a: unknown[]) => unknown)(opts, callback);
    const options = typeof opts === 'string' ? { url: opts } : opts;
    return inject(opts).then((res) => {
      const url = typeof options.url === 'string' ? options.url : String(options.path ?? '');
      const violation = check({ method: options.method ?? 'GET', url, statusCode: res.statusCode, headers: res.headers, body: res.rawPayload });
      if (violation) throw new Error(`Contract broken: ${violation}`);
      return res;
    });
  }) as App['inject'];

  const violations: string[] = [];
  const KEEP = 1024 * 1024;
  app.server.prependListener('request', (req, res) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    const keep = (chunk: unknown) => {
      if (kept > KEEP || (typeof chunk !== 'string' && !Buffer.isBuffer(chunk))) return;
      const buf = Buffer.from(chunk as string);
      kept += buf.length;
      chunks.push(buf);
    };
    // Fastify passes its headers to writeHead, where getHeaders() does not see them.
    const written: Record<string, unknown> = {};
    const writeHead = res.writeHead.bind(res) as (...a: unknown[]) => typeof res;
    res.writeHead = ((...args: unknown[]) => {
      const headers = args.find((a) => a && typeof a === 'object' && !Array.isArray(a)) as Record<string, unknown> | undefined;
      for (const [name, value] of Object.entries(headers ?? {})) written[name.toLowerCase()] = value;
      return writeHead(...args);
    }) as typeof res.writeHead;
    const write = res.write.bind(res) as (...a: unknown[]) => boolean;
    const end = res.end.bind(res) as (...a: unknown[]) => typeof res;
    res.write = ((chunk: unknown, ...rest: unknown[]) => {
      keep(chunk);
      return write(chunk, ...rest);
    }) as typeof res.write;
    res.end = ((chunk?: unknown, ...rest: unknown[]) => {
      // end(callback) has no chunk to keep.
      if (typeof chunk !== 'function' && chunk !== undefined) keep(chunk);
      return end(chunk, ...rest);
    }) as typeof res.end;
    res.on('finish', () => {
      const observed: ObservedResponse = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        statusCode: res.statusCode,
        headers: { ...res.getHeaders(), ...written },
        body: kept > KEEP ? undefined : Buffer.concat(chunks),
      };
      const violation = check(observed);
      if (violation) violations.push(violation);
    });
  });
  return {
    assertNoViolations() {
      if (violations.length) throw new Error(`Contract broken over HTTP:\n${violations.join('\n')}`);
    },
  };
}
