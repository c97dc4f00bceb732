/**
 * The text side of erasing a customer: finding and replacing their address and name(s) in free
 * text and in stored JSON. Pure functions; the erasure (erasure.ts) decides which rows to pass.
 */

/** What replaces the address or a name inside a text. */
export const REDACTED = '[erased]';

/** The address an erased customer's rows keep: reserved (.invalid, RFC 2606), so nothing is ever mailed to it. */
export const tombstoneAddress = (customerId: string): string => `${customerId}@erased.invalid`;

/** Names this short are erased from name fields only: inside a text they cannot be told from ordinary words. */
export const MIN_NAME_CHARS = 3;

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Lower-cases ASCII letters only, as SQLite's lower() does. */
const asciiLower = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

const likeEscape = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** One way of writing what is to be found: LIKE patterns over lower(column) for a SQL pre-filter. */
export function likePatterns(needles: readonly string[]): string[] {
  const out = new Set<string>();
  for (const n of needles) {
    out.add(`%${likeEscape(asciiLower(n))}%`);
    out.add(`%${likeEscape(n.toLowerCase())}%`);
  }
  return [...out];
}

export interface Redactor {
  readonly email: string;
  readonly names: readonly string[];
  readonly tombstone: string;
  /** Whether the text holds the address (anywhere) or, when `names`, one of the names. */
  mentions(text: string | null | undefined, names: boolean): boolean;
  /** The text with the address (and the names when `names`) replaced by REDACTED. */
  text(text: string, names: boolean): string;
  /** A JSON text with every string redacted (see `redactJson`); undefined when nothing changed. */
  json(text: string, names: boolean): string | undefined;
  /** Whether `value` is the address, regardless of case. */
  isAddress(value: string | null | undefined): boolean;
  /** Whether `value` is one of the names, regardless of case and surrounding spaces. */
  isName(value: string | null | undefined): boolean;
}

/**
 * A redactor for one person: their address (lower-cased) and every name they went by. Matching
 * ignores case (Unicode) and needs a boundary on each side, so that `ann@x.org` is not found inside
 * `joann@x.org` nor `Ann` inside `Annual`.
 */
export function createRedactor(input: { email: string; names: readonly (string | null | undefined)[]; tombstone: string }): Redactor {
  const email = input.email.trim().toLowerCase();
  const names = [...new Set(input.names.map((n) => n?.trim()).filter((n): n is string => !!n))];
  const nameKeys = new Set(names.map((n) => n.toLowerCase()));
  const textNames = names.filter((n) => [...n].length >= MIN_NAME_CHARS).sort((a, b) => b.length - a.length);
  // A letter right before is no boundary, unless it ends an escape (`\nName` in stored JSON text).
  const escaped = '(?<=\\\\[nrtbf])';
  const addressPattern = `(?:(?<![\\p{L}\\p{N}._%+-])|${escaped})${escapeRegExp(email)}(?![\\p{L}\\p{N}_-]|\\.[\\p{L}\\p{N}])`;
  const namePatterns = textNames.map((n) => `(?:(?<![\\p{L}\\p{N}])|${escaped})${escapeRegExp(n).replace(/\s+/g, '\\s+')}(?![\\p{L}\\p{N}])`);
  const addressOnly = new RegExp(addressPattern, 'giu');
  const withNames = new RegExp([addressPattern, ...namePatterns].join('|'), 'giu');
  const re = (names: boolean) => (names ? withNames : addressOnly);

  const redactor: Redactor = {
    email,
    names,
    tombstone: input.tombstone,
    mentions(text, names) {
      if (!text) return false;
      const r = re(names);
      r.lastIndex = 0;
      return r.test(text);
    },
    text(text, names) {
      return text.replace(re(names), REDACTED);
    },
    json(text, names) {
      const value: unknown = JSON.parse(text);
      const state = { changed: false };
      const out = redactJson(redactor, value, names, state, undefined);
      return state.changed ? JSON.stringify(out) : undefined;
    },
    isAddress: (value) => !!value && value.trim().toLowerCase() === email,
    isName: (value) => !!value && nameKeys.has(value.trim().toLowerCase()),
  };
  return redactor;
}

/**
 * Every string of a stored JSON value redacted: a value that is the address becomes the tombstone
 * address (an array drops it: a cc list no longer holds them); a value that is a name becomes null
 * under a key ending in `name`, REDACTED elsewhere; any other text has its mentions replaced.
 */
function redactJson(r: Redactor, value: unknown, names: boolean, state: { changed: boolean }, key: string | undefined): unknown {
  if (typeof value === 'string') {
    if (r.isAddress(value)) {
      state.changed = true;
      return r.tombstone;
    }
    if (names && r.isName(value)) {
      state.changed = true;
      return key?.endsWith('name') ? null : REDACTED;
    }
    const text = r.text(value, names);
    if (text !== value) state.changed = true;
    return text;
  }
  if (Array.isArray(value)) {
    const kept = value.filter((v) => !(typeof v === 'string' && r.isAddress(v)));
    if (kept.length !== value.length) state.changed = true;
    return kept.map((v) => redactJson(r, v, names, state, undefined));
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const redactedKey = r.text(k, names);
      if (redactedKey !== k) state.changed = true;
      out[redactedKey] = redactJson(r, v, names, state, k);
    }
    return out;
  }
  return value;
}
