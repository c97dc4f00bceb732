import type { HistoricTicketInput } from '../tickets/service.js';
import { LIMITS, checkMetadata, normalizeTag, textLength } from '../tickets/model.js';

export const IMPORT_SOURCES = ['zendesk', 'freshdesk', 'jsonl'] as const;
export type ImportSource = (typeof IMPORT_SOURCES)[number];

/** A person of the source helpdesk, by its id: who requested, who was assigned, who wrote a comment. */
export interface SourceUser {
  email: string | null;
  name: string | null;
  /** Whether the source calls them staff (an agent or admin); undefined when it does not say. */
  agent?: boolean | undefined;
}

/** What a format needs beside the record: the people (sideloaded or from --users) and the brand override. */
export interface MappingContext {
  users: Map<string, SourceUser>;
  /** `--brand`: every ticket goes to this existing brand instead of one per source brand. */
  brandId?: string | undefined;
}

/** A source record mapped to our model, or why it is skipped. */
export type MappedRecord =
  | {
      kind: 'ticket';
      externalId: string;
      /** The brand to create when missing (a deterministic id, so a rerun finds it). */
      brand: { id: string; name: string };
      ticket: HistoricTicketInput;
      /** Parts of the record left out, each a reason ("comment without text skipped"): counted in the summary. */
      dropped: string[];
    }
  | { kind: 'skip'; externalId: string | null; reason: string };

/** Helpers the formats share. */

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const text = (v: unknown): string | null => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null);
export const idText = (v: unknown): string | null => (typeof v === 'number' || (typeof v === 'string' && v !== '') ? String(v) : null);

/** `"Ann Lee" <ann@example.com>` or a bare address: the address and the name, if any. */
export function parseAddress(value: unknown): { email: string; name: string | null } | null {
  const s = text(value)?.trim();
  if (!s) return null;
  const m = /^(.*)<([^<>\s]+@[^<>\s]+)>\s*$/.exec(s);
  if (m) return { email: m[2]!, name: m[1]!.trim().replace(/^"|"$/g, '').trim() || null };
  return /^[^\s@<>]+@[^\s@<>]+$/.test(s) ? { email: s, name: null } : null;
}

/** A subject within our limit: the first line of the description when blank, cut at 300 characters. */
export function subjectOf(subject: string | null, description: string, dropped: string[]): string {
  let s = (subject ?? '').trim() || description.trim().split('\n')[0]!.trim() || '(no subject)';
  if (textLength(s) > LIMITS.subjectMax) {
    s = `${[...s].slice(0, LIMITS.subjectMax - 1).join('')}…`;
    dropped.push('subject shortened to 300 characters');
  }
  return s;
}

/** The source's tags that fit ours (1-64 characters, 50 at most); the rest are noted as dropped. */
export function tagsOf(value: unknown, dropped: string[]): string[] {
  const tags: string[] = [];
  for (const t of Array.isArray(value) ? value : []) {
    const tag = typeof t === 'string' ? normalizeTag(t) : '';
    if (textLength(tag) < 1 || textLength(tag) > LIMITS.tagMax) dropped.push('tag dropped: empty or longer than 64 characters');
    else if (!tags.includes(tag)) tags.push(tag);
  }
  if (tags.length > LIMITS.tagsMax) {
    dropped.push(`tags beyond the ${LIMITS.tagsMax}th dropped`);
    tags.length = LIMITS.tagsMax;
  }
  return tags;
}

/** A brand id our API accepts (`brand_[A-Za-z0-9_]{1,64}`) made from a source's name and brand id. */
export function brandIdFor(source: string, sourceBrand: string | null): string {
  return `brand_${source}_${(sourceBrand ?? 'default').replace(/[^A-Za-z0-9_]/g, '_')}`.slice(0, 70);
}

/**
 * The ticket's metadata with the source's custom fields under `key` (field id or name → value; empty
 * values left out). When they would break the metadata limits (4 KiB of JSON, 32 levels deep), the
 * ticket is imported without them, and the summary counts it under "left out".
 */
export function withCustomFields(metadata: Record<string, unknown>, key: string, fields: [string, unknown][], dropped: string[]): Record<string, unknown> {
  const kept = fields.filter(([, v]) => v !== null && v !== undefined && v !== '' && !(Array.isArray(v) && v.length === 0));
  if (kept.length === 0) return metadata;
  const withFields = { ...metadata, [key]: Object.fromEntries(kept) };
  try {
    checkMetadata(withFields);
    return withFields;
  } catch {
    dropped.push(
      `custom fields left out: with them the metadata would exceed its limits (${LIMITS.metadataMaxBytes} bytes, ${LIMITS.metadataMaxDepth} levels)`,
    );
    return metadata;
  }
}
