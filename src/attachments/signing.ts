import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a signed URL lets its holder do; part of the signed text, so one cannot pass for the other. */
export type UrlPurpose = 'upload' | 'download';

/** One URL-signing key and the id that names it in the URLs it signs. */
export interface SigningKey {
  kid: string;
  key: Buffer;
}

/** The parts of a signed URL's token, before any key is looked at. */
export interface ParsedToken {
  attachmentId: string;
  /** Expiry, unix seconds in base 36, as signed. */
  expires: string;
  kid: string;
  signature: string;
}

export type TokenCheck = { ok: true; attachmentId: string; expiresAt: Date } | { ok: false; reason: 'invalid' | 'expired' };

/**
 * The key id of tokens made before URLs carried one (`<id>.<expiry>.<signature>`): the key those
 * were signed with keeps this id once sealed, so such URLs work until they expire.
 */
export const LEGACY_KID = '0';

export const KID = /^[0-9a-z]{1,16}$/;
const TOKEN = /^(att_[0-9a-z]{26})\.([0-9a-z]{1,12})(?:\.([0-9a-z]{1,16}))?\.([A-Za-z0-9_-]{43})$/;

// The key id is not part of the signed text: it only picks the key, and a token relabelled with
// another key's id is checked against that other key and fails.
const mac = (key: Buffer, purpose: UrlPurpose, attachmentId: string, expires: string): Buffer =>
  createHmac('sha256', key).update(`nexus-attachment-url\n${purpose}\n${attachmentId}\n${expires}`).digest();

/**
 * The path segment of a signed URL: `<attachment id>.<expiry, unix seconds in base 36>.<key id>.<HMAC>`.
 * It is the whole credential, so it travels in the path (which the logs mask), not the query.
 */
export function signToken(key: SigningKey, purpose: UrlPurpose, attachmentId: string, expiresAt: Date): string {
  const expires = Math.floor(expiresAt.getTime() / 1000).toString(36);
  return `${attachmentId}.${expires}.${key.kid}.${mac(key.key, purpose, attachmentId, expires).toString('base64url')}`;
}

/** Splits a token into its parts; undefined when it does not even look like one. */
export function parseToken(token: string): ParsedToken | undefined {
  const match = TOKEN.exec(token);
  if (!match) return undefined;
  const [, attachmentId, expires, kid, signature] = match as unknown as [string, string, string, string | undefined, string];
  return { attachmentId, expires, kid: kid ?? LEGACY_KID, signature };
}

/**
 * Checks the signature with the key the token names (undefined: no such key, which reads exactly
 * like a bad signature), in constant time, and only then the expiry.
 */
export function verifyToken(key: Buffer | undefined, purpose: UrlPurpose, token: ParsedToken, now: Date): TokenCheck {
  if (!key) return { ok: false, reason: 'invalid' };
  // Compared as text: decoding first would accept the other spellings of the last base64 character.
  const expected = Buffer.from(mac(key, purpose, token.attachmentId, token.expires).toString('base64url'));
  const given = Buffer.from(token.signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'invalid' };
  const expiresAt = new Date(parseInt(token.expires, 36) * 1000);
  if (expiresAt.getTime() <= now.getTime()) return { ok: false, reason: 'expired' };
  return { ok: true, attachmentId: token.attachmentId, expiresAt };
}
