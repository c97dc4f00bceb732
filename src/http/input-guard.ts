import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, type FieldError } from './problem.js';

/**
 * Objects and arrays nest at most this deep in a JSON body (the body itself is level 1). Our own
 * bodies need a handful of levels; the rest is headroom for `metadata` (which has its own, smaller
 * limit). Past it, anything that walks the value by recursion (JSON.stringify for the idempotency
 * fingerprint, the size check of metadata, the response serializer) could overflow the stack.
 */
export const MAX_BODY_DEPTH = 64;

/** A pointer longer than this is cut back to its deepest ancestor that fits, so errors stay small. */
const MAX_POINTER_LENGTH = 512;

interface Frame {
  value: unknown;
  depth: number;
  parent: Frame | undefined;
  /** The member name or array index that leads from the parent to this value. */
  key: string;
}

const escapeSegment = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');

function pointerOf(frame: Frame | undefined, base: string): { pointer: string; cut: boolean } {
  const segments: string[] = [];
  for (let f = frame; f?.parent; f = f.parent) segments.push(escapeSegment(f.key));
  segments.reverse();
  let pointer = base;
  let cut = false;
  for (const segment of segments) {
    if (pointer.length + segment.length + 1 > MAX_POINTER_LENGTH) {
      cut = true;
      break;
    }
    pointer += `/${segment}`;
  }
  return { pointer: pointer || '/', cut };
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a string cannot be stored as sent: PostgreSQL refuses NUL; a lone surrogate would become U+FFFD. */
export function textProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain the NUL character (U+0000)';
  if (LONE_SURROGATE.test(text)) return 'must be well-formed Unicode (a lone surrogate is not)';
  return undefined;
}

/**
 * The first place where a parsed JSON value nests deeper than `maxDepth` (the value itself being
 * level 1), or holds a string or member name that {@link textProblem} refuses. Walks with an
 * explicit stack, never by recursion, so no input can overflow the call stack here.
 */
export function findJsonProblem(value: unknown, maxDepth: number, basePointer = ''): FieldError | undefined {
  const stack: Frame[] = [{ value, depth: value !== null && typeof value === 'object' ? 1 : 0, parent: undefined, key: '' }];
  const fail = (frame: Frame, message: string): FieldError => {
    const { pointer, cut } = pointerOf(frame, basePointer);
    return { pointer, message: cut ? `${message} (somewhere below this field)` : message };
  };
  while (stack.length) {
    const frame = stack.pop()!;
    const v = frame.value;
    if (typeof v === 'string') {
      const problem = textProblem(v);
      if (problem) return fail(frame, problem);
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (frame.depth > maxDepth) return fail(frame, `nests objects and arrays deeper than ${maxDepth} levels`);
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], depth: frame.depth + 1, parent: frame, key: String(i) });
    } else {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i]!;
        const child: Frame = { value: (v as Record<string, unknown>)[key], depth: frame.depth + 1, parent: frame, key };
        const problem = textProblem(key);
        if (problem) return fail(child, `the member name ${problem}`);
        stack.push(child);
      }
    }
  }
  return undefined;
}

/**
 * The same depth limit on raw JSON text, before it is parsed: parsing a 1 MiB body of `[[[[…` costs
 * V8 over a second of CPU, a scan about a millisecond. Tracks only what a pointer needs (the current
 * member name or index of each open container) and leaves everything else to the parser, so a
 * malformed body that stays shallow still gets the parser's own error.
 */
export function findDepthProblemInText(text: string, maxDepth: number): FieldError | undefined {
  const open: { array: boolean; key: string; index: number }[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      const top = open[open.length - 1];
      if (expectKey && top && !top.array) top.key = text.slice(i, j + 1);
      expectKey = false;
      i = j;
    } else if (c === 0x7b || c === 0x5b) {
      if (open.length >= maxDepth) {
        let pointer = '';
        for (const container of open) {
          let segment = String(container.index);
          if (!container.array) {
            try {
              segment = escapeSegment(String(JSON.parse(container.key)));
            } catch {
              segment = '';
            }
          }
          if (pointer.length + segment.length + 1 > MAX_POINTER_LENGTH) {
            return { pointer: pointer || '/', message: `nests objects and arrays deeper than ${maxDepth} levels (somewhere below this field)` };
          }
          pointer += `/${segment}`;
        }
        return { pointer: pointer || '/', message: `nests objects and arrays deeper than ${maxDepth} levels` };
      }
      open.push({ array: c === 0x5b, key: '', index: 0 });
      expectKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      open.pop();
      expectKey = false;
    } else if (c === 0x2c) {
      const top = open[open.length - 1];
      if (top?.array) top.index++;
      else expectKey = true;
    }
  }
  return undefined;
}

const isJsonContainer = (body: unknown): boolean =>
  Array.isArray(body) || (body !== null && typeof body === 'object' && Object.getPrototypeOf(body) === Object.prototype);

/**
 * Before any schema validation or handler: a JSON body nesting past {@link MAX_BODY_DEPTH} is a 422
 * (found in the raw text, before parsing; checked again on the parsed value for bodies parsed elsewhere),
 * and so is any text the database could not store as sent (NUL, lone surrogates), in the body
 * (422, with its pointer), the query (400 `invalid_query`) or the path (404: no resource has that name).
 */
export function registerInputGuard(app: FastifyInstance): void {
  // Fastify's own JSON parser (with its prototype-poisoning checks), behind the cheap depth scan.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    // `Content-Type: application/json` with nothing after it, as some clients send on every
    // request: where the route takes no body (a DELETE, a POST action), it is no body at all.
    if (body === '' && !request.routeOptions.schema?.body) {
      done(null, undefined);
      return;
    }
    const problem = findDepthProblemInText(body as string, MAX_BODY_DEPTH);
    if (problem) {
      done(new AppError('validation_failed', `${problem.pointer} ${problem.message}`, { errors: [problem] }), undefined);
      return;
    }
    parseJson(request, body as string, done);
  });

  // Callback style: it runs on every request, and an async hook would cost a promise each time.
  app.addHook('preValidation', (request, _reply, done) => {
    try {
      checkInputs(request);
    } catch (err) {
      return done(err as Error);
    }
    done();
  });
}

function checkInputs(request: FastifyRequest): void {
  const params = request.params as Record<string, unknown> | undefined;
  for (const value of Object.values(params ?? {})) {
    if (typeof value === 'string' && textProblem(value)) {
      throw new AppError('not_found', `${request.url.split('?')[0]} names no resource: a path segment ${textProblem(value)}`);
    }
  }
  const query = request.query as Record<string, unknown> | undefined;
  // Only declared parameters: an undeclared one is refused by validation (or ignored on a public route).
  const declared = (request.routeOptions.schema?.querystring as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
  for (const [name, value] of Object.entries(query ?? {})) {
    if (!(name in declared)) continue;
    for (const text of [value].flat()) {
      const problem = typeof text === 'string' ? textProblem(text) : undefined;
      if (problem) throw new AppError('invalid_query', `${name} ${problem}`, { errors: [{ pointer: name, message: problem }] });
    }
  }
  if (!isJsonContainer(request.body)) return;
  const problem = findJsonProblem(request.body, MAX_BODY_DEPTH);
  if (problem) {
    throw new AppError('validation_failed', `${problem.pointer} ${problem.message}`, { errors: [problem] });
  }
}
