/**
 * Which methods a concrete path serves, for the `Allow` header of a 405.
 *
 * The router keeps one tree per method, so `DELETE /v1/tokens/me` would reach the
 * `/v1/tokens/:token_id` route although `/v1/tokens/me` is a resource of its own that has no
 * DELETE. A path belongs to exactly one route pattern: the one the router prefers when every
 * method's routes are considered together (at the first segment where two patterns differ, a
 * static segment beats a parameter, and a parameter beats a wildcard). That pattern's methods
 * are the path's methods; a request that reached another pattern is answered 405 as well.
 */

type Segment = { kind: 'static'; text: string } | { kind: 'param' } | { kind: 'wildcard' };

export interface RoutePattern {
  url: string;
  methods: string[];
}

interface Entry extends RoutePattern {
  segments: Segment[];
}

const RANK = { static: 0, param: 1, wildcard: 2 } as const;

function parsePattern(url: string): Segment[] {
  const parts = url.split('/').slice(1);
  const segments: Segment[] = [];
  for (const part of parts) {
    if (part === '*') {
      segments.push({ kind: 'wildcard' });
      break;
    }
    // `:name`, and also forms such as `:from-:to` or `:id(^\d+$)`: one segment of any text.
    segments.push(part.includes(':') ? { kind: 'param' } : { kind: 'static', text: part.replace(/::/g, ':') });
  }
  return segments;
}

/** The path as the router compares it: no query, no trailing slash, percent-decoded where that is valid. */
function pathSegments(url: string): string[] {
  let path = url.split('?')[0] ?? '';
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return path
    .split('/')
    .slice(1)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
}

function matches(segments: Segment[], path: string[]): boolean {
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s.kind === 'wildcard') return true;
    const part = path[i];
    if (part === undefined) return false;
    if (s.kind === 'static' ? part !== s.text : part === '') return false;
  }
  return segments.length === path.length;
}

/** Negative when `a` is preferred over `b` by the router. */
function compare(a: Segment[], b: Segment[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const d = RANK[a[i]!.kind] - RANK[b[i]!.kind];
    if (d !== 0) return d;
  }
  // `/dashboard` before `/dashboard/*` for the path `/dashboard`.
  return a.length - b.length;
}

/** Whether some path could match both patterns (conservative: true when unsure). */
function overlap(a: Segment[], b: Segment[]): boolean {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x?.kind === 'wildcard' || y?.kind === 'wildcard') return true;
    if (!x || !y) return false;
    if (x.kind === 'static' && y.kind === 'static' && x.text !== y.text) return false;
  }
  return true;
}

/**
 * A test a URL must pass to match any of `entries`, the patterns preferred over `own`: where `own`
 * takes a parameter they have a static segment, so the URL must hold one of those as a segment
 * of its own, or a percent sign (a segment may be encoded). Most requests to a parameter route
 * (`GET /v1/tickets/tick_…`) fail it and skip splitting and decoding the path.
 */
function staticWordsTest(own: Entry, entries: Entry[]): (url: string) => boolean {
  const words = new Set<string>();
  for (const entry of entries) {
    entry.segments.forEach((s, i) => {
      if (s.kind === 'static' && own.segments[i]?.kind !== 'static') words.add(s.text);
    });
  }
  if (entries.some((e) => e.segments.some((s) => s.kind === 'wildcard')) || words.size === 0 || words.has('')) return () => true;
  const escaped = [...words].map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const test = new RegExp(`/(?:${escaped.join('|')})(?:[/?]|$)|%`);
  return (url) => test.test(url);
}

export function createRouteTable() {
  const entries = new Map<string, Entry>();
  /** By pattern: the patterns the router prefers over it for some path, and a quick test of whether a URL may match one. */
  const shadowers = new Map<string, { entries: Entry[]; mayMatch: (url: string) => boolean }>();

  return {
    add(url: string, methods: string[]): void {
      const entry = entries.get(url) ?? { url, methods: [], segments: parsePattern(url) };
      for (const m of methods) if (!entry.methods.includes(m)) entry.methods.push(m);
      entries.set(url, entry);
      shadowers.clear();
    },

    /** Every pattern and its methods, in registration order. */
    patterns(): RoutePattern[] {
      return [...entries.values()].map(({ url, methods }) => ({ url, methods: [...methods] }));
    },

    /** The pattern the router prefers for this concrete path whatever the method, if any route matches it. */
    resolve(url: string): RoutePattern | undefined {
      const path = pathSegments(url);
      let best: Entry | undefined;
      for (const entry of entries.values()) {
        if (matches(entry.segments, path) && (!best || compare(entry.segments, best.segments) < 0)) best = entry;
      }
      return best;
    },

    /**
     * The pattern that owns this concrete path although the router sent the request to `pattern`
     * (a static route of another method), or undefined when `pattern` owns it. Only the patterns
     * the router prefers over `pattern` for some path are tried: none for most routes (every
     * static one), a few for a parameter route such as `/v1/tickets/:ticket_id`; the whole
     * table is not walked on every request.
     */
    ownerInstead(url: string, pattern: string): RoutePattern | undefined {
      let preferred = shadowers.get(pattern);
      if (preferred === undefined) {
        const own = entries.get(pattern);
        const before = own ? [...entries.values()].filter((e) => e !== own && overlap(e.segments, own.segments) && compare(e.segments, own.segments) < 0) : [];
        preferred = { entries: before, mayMatch: own ? staticWordsTest(own, before) : () => true };
        shadowers.set(pattern, preferred);
      }
      if (preferred.entries.length === 0 || !preferred.mayMatch(url)) return undefined;
      const path = pathSegments(url);
      let best: Entry | undefined;
      for (const entry of preferred.entries) {
        if (matches(entry.segments, path) && (!best || compare(entry.segments, best.segments) < 0)) best = entry;
      }
      return best;
    },
  };
}

export type RouteTable = ReturnType<typeof createRouteTable>;

const tables = new WeakMap<object, RouteTable>();

/** The route table kept for an app (by registerProblemHandlers), e.g. to check every route in a test. */
export const routeTableOf = (app: object): RouteTable | undefined => tables.get(app);
export const keepRouteTable = (app: object, table: RouteTable): void => void tables.set(app, table);
