import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/schema.js';
import type { TokenRow } from '../db/schema.js';
import { AppError, notFound, validationError } from '../http/problem.js';
import { type Clock, parseInstant, toTimestamp } from '../shared/clock.js';
import { newId } from '../shared/ids.js';
import { fromJsonText, toJsonText } from '../shared/json.js';
import { type Principal, type Scope, SCOPES } from './scopes.js';
import * as store from './token-store.js';

export const TOKEN_PREFIX = 'nxc_';

export interface TokenView {
  id: string;
  name: string;
  scopes: Scope[];
  brand_ids: string[] | null;
  /** The last characters of the secret, so a person can tell which token is which. */
  hint: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  created_at: string;
}

export interface CreatedToken extends TokenView {
  /** The secret; returned once, at creation, and never stored. */
  token: string;
}

export interface CreateTokenInput {
  name: string;
  scopes: Scope[];
  brand_ids?: string[] | null | undefined;
  expires_at?: string | null | undefined;
}

export const hashSecret = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex');

/** `nxc_` + 32 random bytes in base64url (43 characters). */
export const generateSecret = (): string => TOKEN_PREFIX + randomBytes(32).toString('base64url');

export function toTokenView(row: TokenRow): TokenView {
  return {
    id: row.id,
    name: row.name,
    scopes: fromJsonText<Scope[]>(row.scopes, []),
    brand_ids: fromJsonText<string[] | null>(row.brand_ids, null),
    hint: `…${row.secret_hint}`,
    expires_at: row.expires_at,
    revoked_at: row.revoked_at,
    last_used_at: row.last_used_at,
    created_at: row.created_at,
  };
}

export function createTokenService(deps: { db: Db; clock: Clock }) {
  const { db, clock } = deps;

  async function insert(input: CreateTokenInput, secret: string): Promise<CreatedToken> {
    const name = input.name.trim();
    if (!name) throw validationError('/name', 'must not be empty');
    const scopes = [...new Set(input.scopes)];
    if (scopes.length === 0) throw validationError('/scopes', 'must list at least one scope');
    for (const [i, s] of scopes.entries()) {
      if (!SCOPES.includes(s)) throw validationError(`/scopes/${i}`, `must be one of: ${SCOPES.join(', ')}`);
    }
    let expiresAt: string | null = null;
    if (input.expires_at) {
      const at = parseInstant(input.expires_at);
      if (!at) throw validationError('/expires_at', 'must be an RFC 3339 date-time');
      if (at.getTime() <= clock.now().getTime()) throw validationError('/expires_at', 'must be in the future');
      expiresAt = toTimestamp(at);
    }
    let brandIds: string[] | null = null;
    if (input.brand_ids) {
      brandIds = [...new Set(input.brand_ids)];
      for (const [i, id] of brandIds.entries()) {
        const brand = await db.selectFrom('brands').select('id').where('id', '=', id).executeTakeFirst();
        if (!brand) throw validationError(`/brand_ids/${i}`, `brand ${id} does not exist`);
      }
    }
    const now = clock.now();
    const row = {
      id: newId('tok', now.getTime()),
      name,
      secret_hash: hashSecret(secret),
      secret_hint: secret.slice(-4),
      scopes: toJsonText(scopes),
      brand_ids: brandIds ? toJsonText(brandIds) : null,
      expires_at: expiresAt,
      revoked_at: null,
      last_used_at: null,
      created_at: toTimestamp(now),
    };
    await store.insertToken(db, row);
    return { ...toTokenView(row), token: secret };
  }

  return {
    /** Creates a token and returns its secret, the only time the secret is ever visible. */
    create: (input: CreateTokenInput) => insert(input, generateSecret()),

    /**
     * Ensures an admin token whose secret is `secret` exists (the NEXUS_ADMIN_TOKEN bootstrap).
     * Returns true when it had to create it.
     */
    async ensureAdminToken(secret: string): Promise<boolean> {
      const existing = await store.findTokenByHash(db, hashSecret(secret));
      if (existing && !existing.revoked_at) return false;
      if (existing) throw new Error('NEXUS_ADMIN_TOKEN names a revoked token; choose a new secret');
      await insert({ name: 'bootstrap admin (NEXUS_ADMIN_TOKEN)', scopes: ['admin'] }, secret);
      return true;
    },

    /** On first start with no tokens at all: creates an admin token and returns its secret. */
    async createFirstAdminToken(): Promise<CreatedToken | undefined> {
      if ((await store.countTokens(db)) > 0) return undefined;
      return this.create({ name: 'first admin', scopes: ['admin'] });
    },

    list: async (): Promise<TokenView[]> => (await store.listTokens(db)).map(toTokenView),

    /** The token with this id, without its secret; throws not-found when there is none. */
    async getToken(id: string): Promise<TokenView> {
      const row = await store.findToken(db, id);
      if (!row) throw notFound('Token', id);
      return toTokenView(row);
    },

    async revoke(id: string): Promise<TokenView> {
      const row = await store.findToken(db, id);
      if (!row) throw notFound('Token', id);
      await store.revokeToken(db, id, toTimestamp(clock.now()));
      return toTokenView((await store.findToken(db, id))!);
    },

    /**
     * Resolves a bearer secret to its principal. The secret is only ever hashed; the lookup is by
     * hash and the final comparison is constant-time, so timing says nothing about the secret.
     */
    async authenticate(secret: string): Promise<Principal> {
      const unauthorized = new AppError('unauthorized', 'The bearer token is missing, unknown, revoked or expired', {
        headers: { 'WWW-Authenticate': 'Bearer realm="nexuscore", error="invalid_token"' },
      });
      if (!secret.startsWith(TOKEN_PREFIX) && secret.length < 32) throw unauthorized;
      const hash = hashSecret(secret);
      const row = await store.findTokenByHash(db, hash);
      if (!row || !timingSafeEqual(Buffer.from(row.secret_hash, 'hex'), Buffer.from(hash, 'hex'))) throw unauthorized;
      const now = clock.now();
      if (row.revoked_at) throw unauthorized;
      if (row.expires_at && row.expires_at <= toTimestamp(now)) throw unauthorized;
      // Recording use at most once a minute keeps reads from turning into writes.
      if (!row.last_used_at || Date.parse(row.last_used_at) < now.getTime() - 60_000) {
        await store.touchToken(db, row.id, toTimestamp(now));
      }
      return {
        tokenId: row.id,
        tokenName: row.name,
        scopes: fromJsonText<Scope[]>(row.scopes, []),
        brandIds: fromJsonText<string[] | null>(row.brand_ids, null),
      };
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
