import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DbOrTx } from '../db/schema.js';
import type { SecretBox } from '../shared/secret-box.js';
import { toTimestamp } from '../shared/clock.js';
import { findServerKey, insertServerKeyIfAbsent } from '../server-keys/store.js';

const KEY_NAME = 'email-reply-token';
const TICKET_ID = /^tick_[0-9a-z]{26}$/;

/**
 * Reply tokens: `<ticket id>.<12 hex of an HMAC>`, carried in the plus-address of Reply-To
 * (`support+tick_….1a2b3c4d5e6f@example.com`). The HMAC, under a key of the deployment kept in
 * `server_keys` (sealed), makes the token unguessable, so a stranger cannot post into a ticket by
 * addressing it; the ticket reference in the subject is only trusted from the ticket's own people.
 */
export function createReplyTokens(deps: { db: DbOrTx; box: SecretBox }) {
  let key: Buffer | undefined;

  async function loadKey(): Promise<Buffer> {
    if (key) return key;
    let row = await findServerKey(deps.db, KEY_NAME);
    if (!row) {
      await insertServerKeyIfAbsent(deps.db, { name: KEY_NAME, secret: deps.box.seal(randomBytes(32).toString('hex')), created_at: toTimestamp(new Date()) });
      row = await findServerKey(deps.db, KEY_NAME);
    }
    key = Buffer.from(deps.box.open(row!.secret), 'hex');
    return key;
  }

  const mac = (k: Buffer, ticketId: string) => createHmac('sha256', k).update(ticketId).digest('hex').slice(0, 12);

  return {
    /** Loads (or makes, once per deployment) the key; call at start so that `tokenFor` is synchronous. */
    prepare: async (): Promise<void> => {
      await loadKey();
    },

    tokenFor(ticketId: string): string {
      if (!key) throw new Error('reply tokens used before prepare()');
      return `${ticketId}.${mac(key, ticketId)}`;
    },

    /** The ticket a token names, when it is one we made. */
    async ticketOf(token: string): Promise<string | undefined> {
      const [ticketId, given] = token.toLowerCase().split('.');
      if (!ticketId || !given || !TICKET_ID.test(ticketId) || given.length !== 12) return undefined;
      const expected = mac(await loadKey(), ticketId);
      return timingSafeEqual(Buffer.from(expected), Buffer.from(given)) ? ticketId : undefined;
    },
  };
}

export type ReplyTokens = ReturnType<typeof createReplyTokens>;

/** `support+tag@example.com` → `{ base: 'support@example.com', tag: 'tag' }`; lower-cased. */
export function splitAddress(address: string): { base: string; tag: string | undefined } {
  const lower = address.trim().toLowerCase().replace(/^<|>$/g, '');
  const at = lower.lastIndexOf('@');
  if (at < 1) return { base: lower, tag: undefined };
  const local = lower.slice(0, at);
  const plus = local.indexOf('+');
  if (plus < 0) return { base: lower, tag: undefined };
  return { base: `${local.slice(0, plus)}${lower.slice(at)}`, tag: local.slice(plus + 1) || undefined };
}

/** The reference we put in the subject of every reply: `[#tick_…]`. */
export const subjectReference = (ticketId: string): string => `[#${ticketId}]`;

/** The ticket id in a subject's `[#tick_…]`, if any. */
export const ticketOfSubject = (subject: string): string | undefined => /\[#(tick_[0-9a-z]{26})\]/i.exec(subject)?.[1]?.toLowerCase();

/** The subject of a reply: `Re: <subject> [#tick_…]`, without piling up Re: or references. */
export function replySubject(subject: string, ticketId: string): string {
  const ref = subjectReference(ticketId);
  const bare = subject
    .replace(/\s*\[#tick_[0-9a-z]{26}\]\s*/gi, ' ')
    .replace(/^\s*((re|aw|sv|fw|fwd)\s*:\s*)+/i, '')
    .trim();
  return `Re: ${bare || '(no subject)'} ${ref}`;
}
