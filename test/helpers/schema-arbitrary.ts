import fc from 'fast-check';

/*
 * fast-check arbitraries derived from the JSON Schemas of an OpenAPI document: values a schema
 * accepts, and values it refuses in one place (a swapped type, a number out of range, a string
 * too long, a field unknown or missing, odd Unicode, nesting far past any sane depth). Lengths
 * are capped so that a run stays fast; the boundary itself (exactly maxLength) is always tried.
 */

// biome-ignore lint/suspicious/noExplicitAny: JSON Schemas of the OpenAPI document are walked keyword by keyword, untyped
export type Schema = Record<string, any>;

/** Text that is blank once trimmed: schema-valid for a plain minLength, empty after normalising. */
export const BLANK_STRINGS = [' ', '   ', '\t', '\r\n', '\u00a0', '\u3000', '\ufeff'];

/** Strings that have broken parsers, normalisers and databases somewhere. */
export const ODD_STRINGS = [
  '',
  ...BLANK_STRINGS,
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\u202eevil',
  '\ufeff',
  '\u200b',
  'e\u0301',
  'İİİ',
  'ß',
  '🧨',
  '👩‍👩‍👧‍👦',
  '\r\n',
  '\t',
  "'; drop table tickets; --",
  '../../etc/passwd',
  '%00',
  '%',
  '<script>alert(1)</script>',
  '{{7*7}}',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a Log4Shell-style lookup, meant literally
  '${jndi:x}',
  'null',
  'true',
  '-0',
  '1e309',
  'NaN',
];

const VALUE_CAP = 80;
const ARRAY_CAP = 4;

/**
 * JSON text to splice in where a value goes: nesting deep enough to overflow a recursive
 * JSON.stringify cannot be built as a value (the test would overflow first).
 */
export class RawJson {
  constructor(readonly text: string) {}
  toJSON(): string {
    return `\u0000raw:${this.text.length}`;
  }
}

/** `depth` levels of arrays (or objects) as JSON text. */
export const deeplyNested = (depth: number, asObject = false): RawJson =>
  new RawJson(asObject ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` : `${'['.repeat(depth)}1${']'.repeat(depth)}`);

/** JSON.stringify, with RawJson spliced in as written. */
export function toJsonText(value: unknown): string {
  const raws: RawJson[] = [];
  const collect = (v: unknown): void => {
    if (v instanceof RawJson) raws.push(v);
    else if (Array.isArray(v)) v.forEach(collect);
    else if (v && typeof v === 'object') Object.values(v).forEach(collect);
  };
  collect(value);
  let text = JSON.stringify(value) ?? 'null';
  for (const raw of raws) text = text.replace(JSON.stringify(raw), raw.text);
  return text;
}

export interface SchemaArbitraries {
  valid(schema: Schema, depth?: number): fc.Arbitrary<unknown>;
  invalid(schema: Schema, depth?: number): fc.Arbitrary<unknown>;
  resolve(schema: Schema): Schema;
}

/**
 * `fields` names values that the schema cannot know are the useful ones (ids of things that
 * exist): a property of that name takes one of them most of the time.
 */
export function schemaArbitraries(document: Schema, options: { fields?: Record<string, fc.Arbitrary<unknown>> } = {}): SchemaArbitraries {
  const fields = options.fields ?? {};
  function resolve(schema: Schema): Schema {
    let s = schema;
    for (let i = 0; i < 20 && s && typeof s.$ref === 'string'; i++) {
      const path = s.$ref.replace(/^#\//, '').split('/');
      let target: Schema = document;
      for (const part of path) target = target?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
      if (!target) throw new Error(`unresolved $ref ${s.$ref}`);
      const { $ref: _ref, ...siblings } = s;
      s = { ...target, ...siblings };
    }
    return s;
  }

  const types = (s: Schema): string[] => (Array.isArray(s.type) ? s.type : s.type ? [s.type] : []);

  function validString(s: Schema): fc.Arbitrary<string> {
    const min = s.minLength ?? 0;
    const max = Math.min(s.maxLength ?? VALUE_CAP, Math.max(min, VALUE_CAP));
    const fits = (v: string) => [...v].length >= min && [...v].length <= (s.maxLength ?? Infinity) && (!s.pattern || new RegExp(s.pattern, 'u').test(v));
    if (s.format === 'email') {
      return fc
        .tuple(fc.stringMatching(/^[a-z0-9][a-z0-9.+_-]{0,15}$/), fc.constantFrom('example.com', 'b.example', 'xn--bcher-kva.example'))
        .map(([l, d]) => `${l}@${d}`);
    }
    if (s.format === 'date-time') {
      return fc
        .tuple(fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true }), fc.boolean())
        .map(([d, ms]) => (ms ? d.toISOString() : d.toISOString().replace(/\.\d{3}Z$/, 'Z')));
    }
    if (s.format === 'uri') {
      return fc.oneof(fc.webUrl(), fc.constantFrom('http://127.0.0.1:9/hook', 'https://receiver.example/hooks/nexus?x=1')).filter(fits);
    }
    const boundary = s.maxLength !== undefined && s.maxLength <= 5000 && !s.pattern ? [fc.constant('x'.repeat(s.maxLength))] : [];
    if (s.pattern) {
      return fc.oneof(fc.stringMatching(new RegExp(s.pattern)), fc.constantFrom(...ODD_STRINGS)).filter(fits);
    }
    // Edges get a large share: that is where the bugs are.
    return fc.oneof(
      { weight: 4, arbitrary: fc.string({ minLength: min, maxLength: max }) },
      { weight: 2, arbitrary: fc.string({ minLength: min, maxLength: max, unit: 'binary' }) },
      { weight: 2, arbitrary: fc.constantFrom(...ODD_STRINGS).filter(fits) },
      { weight: 2, arbitrary: fc.constantFrom(...BLANK_STRINGS).filter(fits) },
      ...boundary.map((arbitrary) => ({ weight: 1, arbitrary })),
    );
  }

  function validNumber(s: Schema, integer: boolean): fc.Arbitrary<number> {
    const min = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : -1_000_000);
    const max = s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - 1 : 1_000_000);
    const edges = fc.constantFrom(...[min, max].filter((v) => Number.isFinite(v)));
    return integer ? fc.oneof(fc.integer({ min, max }), edges) : fc.oneof(fc.double({ min, max, noNaN: true, noDefaultInfinity: true }), edges);
  }

  function valid(schema: Schema, depth = 0): fc.Arbitrary<unknown> {
    const s = resolve(schema);
    if (depth > 6) return fc.constant(null);
    if ('const' in s) return fc.constant(s.const);
    if (Array.isArray(s.enum)) return fc.constantFrom(...s.enum);
    const alternatives = s.anyOf ?? s.oneOf;
    if (Array.isArray(alternatives)) {
      // Deep inside a recursive schema (JsonValue), keep to the branches that end.
      const branches = depth > 3 ? alternatives.filter((b: Schema) => !['array', 'object'].includes(resolve(b).type)) : alternatives;
      return fc.oneof(...(branches.length ? branches : alternatives).map((b: Schema) => valid(b, depth + 1)));
    }
    if (Array.isArray(s.allOf)) return valid(mergeAll(s.allOf.map(resolve)), depth);
    const ts = types(s);
    if (ts.length > 1) return fc.oneof(...ts.map((type) => valid({ ...s, type }, depth)));
    switch (ts[0]) {
      case 'string':
        return validString(s);
      case 'integer':
        return validNumber(s, true);
      case 'number':
        return validNumber(s, false);
      case 'boolean':
        return fc.boolean();
      case 'null':
        return fc.constant(null);
      case 'array': {
        if (Array.isArray(s.prefixItems)) return fc.tuple(...s.prefixItems.map((p: Schema) => valid(p, depth + 1)));
        const minLength = s.minItems ?? 0;
        return fc.array(s.items ? valid(s.items, depth + 1) : fc.jsonValue({ maxDepth: 2 }), {
          minLength,
          maxLength: Math.max(minLength, Math.min(s.maxItems ?? ARRAY_CAP, ARRAY_CAP)),
        });
      }
      case 'object':
      case undefined:
        if (!s.properties && !s.additionalProperties && ts[0] === undefined) return fc.jsonValue({ maxDepth: 2 });
        return validObject(s, depth);
      default:
        return fc.constant(null);
    }
  }

  function validObject(s: Schema, depth: number): fc.Arbitrary<Record<string, unknown>> {
    const properties: Record<string, Schema> = s.properties ?? {};
    const required: string[] = s.required ?? [];
    const model: Record<string, fc.Arbitrary<unknown>> = {};
    for (const [name, prop] of Object.entries(properties)) {
      const known = fields[name];
      model[name] = known ? fc.oneof({ weight: 4, arbitrary: known }, { weight: 1, arbitrary: valid(prop, depth + 1) }) : valid(prop, depth + 1);
    }
    const fixed = fc.record(model, { requiredKeys: required.filter((r) => r in properties) });
    const extra = s.additionalProperties;
    if (!extra || Object.keys(properties).length) return fixed;
    const values = extra === true ? fc.jsonValue({ maxDepth: 2 }) : valid(extra, depth + 1);
    // A free-form object (metadata) is where nesting depth can hurt: the schema has no limit for it.
    return fc.oneof(
      { weight: 3, arbitrary: fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), values, { maxKeys: 3 }) },
      { weight: 1, arbitrary: fc.constantFrom<Record<string, unknown>>({ deep: deeplyNested(5000) }, { deep: deeplyNested(5000, true) }) },
    );
  }

  function mergeAll(parts: Schema[]): Schema {
    const merged: Schema = { type: 'object', properties: {}, required: [] };
    for (const p of parts) {
      Object.assign(merged.properties, p.properties ?? {});
      merged.required.push(...(p.required ?? []));
      if (p.additionalProperties === false) merged.additionalProperties = false;
    }
    return merged;
  }

  /** A JSON value of another type than the schema allows. */
  function otherType(s: Schema): fc.Arbitrary<unknown> {
    const allowed = new Set(types(s));
    const candidates: [string, fc.Arbitrary<unknown>][] = [
      ['string', fc.constantFrom('a', '12', '', 'true')],
      ['integer', fc.constantFrom(0, 7, -1)],
      ['number', fc.constantFrom(1.5, -0.25)],
      ['boolean', fc.boolean()],
      ['null', fc.constant(null)],
      ['array', fc.constantFrom([], ['a'], [1, 2])],
      ['object', fc.constantFrom({}, { a: 1 })],
    ];
    // An integer is a number too; 1.5 is not an integer.
    const pool = candidates.filter(([t]) => !allowed.has(t) && !(t === 'integer' && allowed.has('number')));
    return fc.oneof(...pool.map(([, a]) => a));
  }

  function invalid(schema: Schema, depth = 0): fc.Arbitrary<unknown> {
    const s = resolve(schema);
    const options: fc.Arbitrary<unknown>[] = [];
    if (Array.isArray(s.enum)) options.push(fc.constantFrom('', 'OPEN', 'nope', `${s.enum[0]} `, 42));
    if ('const' in s) options.push(fc.constant(`${String(s.const)}x`));
    const alternatives: Schema[] | undefined = s.anyOf ?? s.oneOf;
    if (alternatives) {
      const ts = new Set(alternatives.flatMap((b) => types(resolve(b))));
      if (!ts.has('object')) options.push(fc.constant({ unexpected: true }));
      if (!ts.has('array')) options.push(fc.constant([[1]]));
      // One branch's invalid value, when it is not another branch's valid one, is still refused.
      const objects = alternatives.map(resolve).filter((b) => types(b).includes('object'));
      if (objects.length === 1 && depth < 4) options.push(invalid(objects[0]!, depth + 1));
    }
    if (Array.isArray(s.allOf)) return invalid(mergeAll(s.allOf.map(resolve)), depth);
    const ts = types(s);
    if (ts.length && !alternatives) options.push(otherType(s));
    if (ts.includes('string')) {
      if (s.maxLength !== undefined)
        options.push(fc.constantFrom('x'.repeat(s.maxLength + 1), 'é'.repeat(s.maxLength + 1), 'y'.repeat(Math.min(s.maxLength * 4, 300_000))));
      if (s.minLength) options.push(fc.constant(''));
      if (s.pattern) options.push(fc.constantFrom(...ODD_STRINGS).filter((v) => !new RegExp(s.pattern, 'u').test(v)));
      if (s.format === 'email') options.push(fc.constantFrom('not-an-email', 'a@', '@b.example', 'a b@example.com', 'a@b@c'));
      if (s.format === 'date-time')
        options.push(
          fc.constantFrom('2025-02-30T10:00:00Z', '2025-13-01T00:00:00Z', '2025-01-01T25:00:00Z', 'yesterday', '2025-01-01', '1e12', '2025-01-01T00:00:00'),
        );
      if (s.format === 'uri')
        options.push(
          fc.constantFrom('not a url', 'ftp://a.example/x', 'javascript:alert(1)', 'https://user:pw@a.example/x', 'http://', 'http://[::1', '//a.example'),
        );
    }
    if (ts.includes('integer') || ts.includes('number')) {
      const edges: number[] = [1e308, -1e308, 2 ** 53 + 2];
      if (s.minimum !== undefined) edges.push(s.minimum - 1);
      if (s.maximum !== undefined) edges.push(s.maximum + 1);
      if (ts.includes('integer')) edges.push(1.5);
      options.push(fc.constantFrom(...edges));
    }
    if (ts.includes('array')) {
      if (s.maxItems !== undefined)
        options.push(fc.constant(Array.from({ length: s.maxItems + 1 }, (_, i) => (s.items && resolve(s.items).type === 'string' ? `v${i}` : i))));
      if (s.minItems) options.push(fc.constant([]));
      if (s.items && depth < 4) options.push(fc.tuple(valid(s.items, depth + 1), invalid(s.items, depth + 1)).map(([a, b]) => [a, b]));
      options.push(fc.constant(deeplyNested(5000)));
    }
    if (ts.includes('object') || (!ts.length && (s.properties || s.additionalProperties))) {
      const properties: Record<string, Schema> = s.properties ?? {};
      const names = Object.keys(properties);
      const base = validObject(s, depth);
      if (s.additionalProperties === false) options.push(base.map((o) => ({ ...o, unknown_field: 'x' })));
      const required: string[] = s.required ?? [];
      if (required.length)
        options.push(fc.tuple(base, fc.constantFrom(...required)).map(([o, r]) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== r))));
      if (names.length && depth < 4) {
        options.push(
          fc.constantFrom(...names).chain((name) => fc.tuple(base, invalid(properties[name]!, depth + 1)).map(([o, bad]) => ({ ...o, [name]: bad }))),
        );
      }
      if (!names.length && s.additionalProperties !== false) {
        // A free-form object (metadata): nesting and size are what can hurt.
        options.push(fc.constantFrom({ deep: deeplyNested(5000) }, { deep: deeplyNested(5000, true) }, { big: 'z'.repeat(10_000) }));
      }
    }
    if (!options.length) options.push(otherType({ type: 'null' }));
    return fc.oneof(...options);
  }

  return { valid, invalid, resolve };
}
