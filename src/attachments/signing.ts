import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DbOrTx } from '../db/schema.js';
import { toTimestamp } from '../shared/clock.js';

/** What a signed URL lets its holder do; part of the signed text, so one cannot pass for the other. */
export type UrlPurpose = 'upload' | 'download';

export type TokenCheck = { ok: true; attachmentId: string; expiresAt: Date } | { ok: false; reason: 'invalid' | 'expired' };

const KEY_NAME = 'attachment-url-signing';
const TOKEN = /^(att_[0-9a-z]{26})\.([0-9a-z]{1,12})\.([A-Za-z0-9_-]{43})$/;

const mac = (key: Buffer, purpose: UrlPurpose, attachmentId: string, expires: string): Buffer =>
  createHmac('sha256', key).update(`nexus-attachment-url\n${purpose}\n${attachmentId}\n${expires}`).digest();

/**
 * The path segment of a signed URL: `<attachment id>.<expiry, unix seconds in base 36>.<HMAC>`.
 * It is the whole credential, so it travels in the path (which the logs mask), not the query.
 */
export function signToken(key: Buffer, purpose: UrlPurpose, attachmentId: string, expiresAt: Date): string {
  const expires = Math.floor(expiresAt.getTime() / 1000).toString(36);
  return `${attachmentId}.${expires}.${mac(key, purpose, attachmentId, expires).toString('base64url')}`;
}

/** Checks the signature first, in constant time, and only then the expiry. */
export function verifyToken(key: Buffer, purpose: UrlPurpose, token: string, now: Date): TokenCheck {
  const match = TOKEN.exec(token);
  if (!match) return { ok: false, reason: 'invalid' };
  const [, attachmentId, expires, signature] = match as unknown as [string, string, string, string];
  // Compared as text: decoding first would accept the other spellings of the last base64 character.
  const expected = Buffer.from(mac(key, purpose, attachmentId, expires).toString('base64url'));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'invalid' };
  const expiresAt = new Date(parseInt(expires, 36) * 1000);
  if (expiresAt.getTime() <= now.getTime()) return { ok: false, reason: 'expired' };
  return { ok: true, attachmentId, expiresAt };
}

/**
 * The URL-signing key: 32 random bytes kept in the database, so it survives restarts and every
 * process on the same database (API, `nexus worker`, CLI) signs and checks alike. The migration
 * makes it; should the row be gone (deleted to rotate the key), the next use makes a new one, and
 * of two racing processes the insert that loses is ignored. `created` tells the caller not to cache
 * it yet: the insert may belong to a transaction that is rolled back.
 */
export async function loadSigningKey(db: DbOrTx, now: Date): Promise<{ key: Buffer; created: boolean }> {
  const read = () => db.selectFrom('server_keys').select('secret').where('name', '=', KEY_NAME).executeTakeFirst();
  let row = await read();
  const created = !row;
  if (!row) {
    await db
      .insertInto('server_keys')
      .values({ name: KEY_NAME, secret: randomBytes(32).toString('hex'), created_at: toTimestamp(now) })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    row = await read();
  }
  if (!row) throw new Error('the URL signing key could not be stored');
  return { key: Buffer.from(row.secret, 'hex'), created };
}
