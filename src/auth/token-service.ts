import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/schema.js';
import type { TokenRow } from '../db/schema.js';
import { AppError, notFound, validationError } from '../http/problem.js';
import { type Clock, parseInstant, toTimestamp } from '../shared/clock.js';
import { newId } from '../shared/ids.js';
import { fromJsonText, toJsonText } from '../shared/json.js';
import { unknownBrand, visibleBrandIds } from '../brands/visibility.js';
import { type Principal, type Scope, SCOPES, coversBrands, hasScope } from './scopes.js';
import * as store from './token-store.js';
import { committedDataVersion } from '../db/prepared.js';

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
  /** The agent the token belongs to; null: none. */
  agent_id: string | null;
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
  agent_id?: string | null | undefined;
}

export const hashSecret = (secret: string): string => hash('sha256', secret, 'hex');

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
    agent_id: row.agent_id ?? null,
  };
}

export interface TokenServiceDeps {
  db: Db;
  clock: Clock;
  /** NEXUS_ADMIN_TOKEN: the bootstrap token it names cannot be revoked over the API. */
  bootstrapSecret?: string | undefined;
  /** Checks the agent a new token is to belong to (422 at /agent_id when it may not); the agents module provides it. */
  agents?: { requireAssignableToToken(grantor: Principal | null, id: string): Promise<unknown> } | undefined;
}

/** Whether a token row lies inside the principal's brands: a token of every brand only inside an unrestricted one. */
const covers = (principal: Principal, row: TokenRow): boolean => coversBrands(principal, fromJsonText<string[] | null>(row.brand_ids, null));

export function createTokenService(deps: TokenServiceDeps) {
  const { db, clock } = deps;
  const bootstrapHash = deps.bootstrapSecret ? hashSecret(deps.bootstrapSecret) : undefined;

  /**
   * Validates a new token against what its grantor holds: no scope it lacks (403), no brand
   * outside its own (422, worded like a missing brand), no expiry after its own (422). Null
   * grantor: the operator (CLI, bootstrap), who may grant anything.
   */
  async function insert(input: CreateTokenInput, secret: string, grantor: Principal | null): Promise<CreatedToken> {
    const name = input.name.trim();
    if (!name) throw validationError('/name', 'must not be empty');
    const scopes = [...new Set(input.scopes)];
    if (scopes.length === 0) throw validationError('/scopes', 'must list at least one scope');
    for (const [i, s] of scopes.entries()) {
      if (!SCOPES.includes(s)) throw validationError(`/scopes/${i}`, `must be one of: ${SCOPES.join(', ')}`);
    }
    const ungrantable = grantor ? scopes.filter((s) => !hasScope(grantor, s)) : [];
    if (ungrantable.length) {
      throw new AppError('forbidden', `This token cannot grant ${ungrantable.join(', ')}: a token grants only scopes it holds`);
    }
    const grantorExpiry = grantor?.expiresAt ?? null;
    let expiresAt: string | null = grantorExpiry;
    if (input.expires_at) {
      const at = parseInstant(input.expires_at);
      if (!at) throw validationError('/expires_at', 'must be an RFC 3339 date-time');
      if (at.getTime() <= clock.now().getTime()) throw validationError('/expires_at', 'must be in the future');
      expiresAt = toTimestamp(at);
      if (grantorExpiry !== null && at.getTime() > Date.parse(grantorExpiry)) {
        throw validationError('/expires_at', `must not be later than the expiry of the token creating it (${grantorExpiry})`);
      }
    }
    let brandIds: string[] | null = null;
    if (input.brand_ids) {
      brandIds = [...new Set(input.brand_ids)];
      const visible = await visibleBrandIds(db, grantor, brandIds);
      const i = brandIds.findIndex((id) => !visible.has(id));
      if (i !== -1) {
        const error = unknownBrand(`/brand_ids/${i}`, brandIds[i]!);
        throw validationError(error.pointer, error.message);
      }
    } else if (grantor?.brandIds) {
      // A brand-restricted token can only hand out brands it has: by default, all of its own.
      if (input.brand_ids === null) {
        throw validationError('/brand_ids', 'must list brands: a brand-restricted token cannot create a token for every brand');
      }
      brandIds = [...grantor.brandIds];
    }
    const agentId = input.agent_id ?? null;
    if (agentId !== null) {
      if (!deps.agents) throw validationError('/agent_id', 'agents are not available here');
      await deps.agents.requireAssignableToToken(grantor, agentId);
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
      agent_id: agentId,
    };
    await store.insertToken(db, row);
    return { ...toTokenView(row), token: secret };
  }

  const authenticated = authenticatedTokens(db);
  const uses = tokenUses(db, clock);

  return {
    /**
     * Creates a token and returns its secret, the only time the secret is ever visible. With a
     * grantor (the calling token), the new token stays within it: scopes it holds (403 otherwise),
     * brands it has (brand_ids left out: its own), an expiry no later than its own (default: its own).
     * Without one, the operator (CLI) grants anything.
     */
    create: (input: CreateTokenInput, grantor: Principal | null = null) => insert(input, generateSecret(), grantor),

    /**
     * Ensures an admin token whose secret is `secret` exists (the NEXUS_ADMIN_TOKEN bootstrap):
     * `created` when it had to make it, `present` when it exists, `revoked` when it was revoked.
     * A revoked one stays revoked: revocation is never undone behind the operator's back.
     */
    async ensureAdminToken(secret: string): Promise<'created' | 'present' | 'revoked'> {
      const existing = await store.findTokenByHash(db, hashSecret(secret));
      if (existing) return existing.revoked_at ? 'revoked' : 'present';
      await insert({ name: 'bootstrap admin (NEXUS_ADMIN_TOKEN)', scopes: ['admin'] }, secret, null);
      return 'created';
    },

    /** On first start with no tokens at all: creates an admin token and returns its secret. */
    async createFirstAdminToken(): Promise<CreatedToken | undefined> {
      if ((await store.countTokens(db)) > 0) return undefined;
      return insert({ name: 'first admin', scopes: ['admin'] }, generateSecret(), null);
    },

    /** Every token the viewer covers (a brand-restricted one: tokens wholly inside its brands); null viewer: all. */
    async list(viewer: Principal | null = null): Promise<TokenView[]> {
      const rows = await store.listTokens(db);
      return (viewer ? rows.filter((row) => covers(viewer, row)) : rows).map(toTokenView);
    },

    /** The token with this id, without its secret; throws not-found when there is none. */
    async getToken(id: string): Promise<TokenView> {
      const row = await store.findToken(db, id);
      if (!row) throw notFound('Token', id);
      return toTokenView(row);
    },

    /** A token the viewer covers, without its secret; one outside its brands is a 404 like a missing one. */
    async get(id: string, viewer: Principal): Promise<TokenView> {
      const row = await store.findToken(db, id);
      if (!row || !covers(viewer, row)) throw notFound('Token', id);
      return toTokenView(row);
    },

    /**
     * Revokes a token, effective on its next request. Over the API (`by` given) a token outside the
     * caller's brands is a 404 like a missing one, and the bootstrap token named by
     * NEXUS_ADMIN_TOKEN is a 409: the operator retires it by changing that setting, or revokes it
     * with the CLI (`by` null) when it has leaked.
     */
    async revoke(id: string, by: Principal | null = null): Promise<TokenView> {
      const row = await store.findToken(db, id);
      if (!row || (by && !covers(by, row))) throw notFound('Token', id);
      if (by && bootstrapHash !== undefined && row.secret_hash === bootstrapHash) {
        throw new AppError(
          'conflict',
          `Token ${id} is the bootstrap token named by NEXUS_ADMIN_TOKEN: it cannot be revoked over the API. To retire it, give NEXUS_ADMIN_TOKEN a new secret (or unset it) and restart; if it leaked, revoke it on the server with \`nexus tokens revoke ${id}\``,
        );
      }
      await store.revokeToken(db, id, toTimestamp(clock.now()));
      return toTokenView((await store.findToken(db, id))!);
    },

    /**
     * Resolves a bearer secret to its principal. The secret is only ever hashed; the lookup is by
     * hash and the final comparison is constant-time, so timing says nothing about the secret.
     */
    async authenticate(secret: string): Promise<Principal> {
      // Made only when refusing: an error captures a stack trace, a cost every good request would pay.
      const unauthorized = () =>
        new AppError('unauthorized', 'The bearer token is missing, unknown, revoked or expired', {
          headers: { 'WWW-Authenticate': 'Bearer realm="nexuscore", error="invalid_token"' },
        });
      if (!secret.startsWith(TOKEN_PREFIX) && secret.length < 32) throw unauthorized();
      const found = await authenticated.find(hashSecret(secret));
      if (!found || found.revoked || !found.agentActive) throw unauthorized();
      const now = clock.now().getTime();
      if (found.expiresAtMs !== null && found.expiresAtMs <= now) throw unauthorized();
      uses.used(found, now);
      return found.principal;
    },

    /** Writes the token uses not written yet (`tokenUses`): before the process stops. */
    recordUses: (): Promise<void> => uses.flush(),
  };
}

export type TokenService = ReturnType<typeof createTokenService>;

/** How many tokens' lookups one process keeps (the most recently read first out). */
const KEPT_TOKENS = 10_000;

interface AuthenticatedToken {
  /** Made once per read of the token, frozen: requests share it. */
  principal: Principal;
  revoked: boolean;
  /** False when the token's agent is deactivated (true for a token of no agent). */
  agentActive: boolean;
  expiresAtMs: number | null;
  lastUsedAtMs: number | null;
  /** The database's data version the token was read under. */
  dataVersion: number | undefined;
}

/**
 * Every authenticated request looks its token up by the secret's hash. On SQLite the lookup (the
 * token with its agent, and the principal made from it) is kept while nothing at all has been
 * committed to the database since it was read, by this process or another (`committedDataVersion`):
 * a revocation, an agent's deactivation or new name, recording a token's use are commits, so the
 * next request reads the token again. What depends on the clock (expiry, when use was last
 * recorded) is checked on every request. Checking the version is one pragma on the read
 * connection; the lookup it saves is a join and two JSON parses. PostgreSQL has no such version:
 * there every request reads.
 */
function authenticatedTokens(db: Db) {
  const kept = new Map<string, AuthenticatedToken>();
  return {
    async find(hash: string): Promise<AuthenticatedToken | undefined> {
      const dataVersion = committedDataVersion(db);
      // A kept entry's key is the very hash; only a database lookup needs the constant-time check.
      const hit = dataVersion === undefined ? undefined : kept.get(hash);
      if (hit && hit.dataVersion === dataVersion) return hit;
      const row = await store.findTokenByHash(db, hash);
      if (!row || !timingSafeEqual(Buffer.from(row.secret_hash, 'hex'), Buffer.from(hash, 'hex'))) {
        kept.delete(hash);
        return undefined;
      }
      const found: AuthenticatedToken = {
        principal: Object.freeze({
          tokenId: row.id,
          tokenName: row.name,
          scopes: Object.freeze(fromJsonText<Scope[]>(row.scopes, [])) as Scope[],
          brandIds: frozenOrNull(fromJsonText<string[] | null>(row.brand_ids, null)),
          expiresAt: row.expires_at,
          agent: row.agent_id && row.agent_name && row.agent_email ? Object.freeze({ id: row.agent_id, name: row.agent_name, email: row.agent_email }) : null,
        }),
        revoked: row.revoked_at !== null,
        agentActive: !row.agent_id || Number(row.agent_active) === 1,
        expiresAtMs: row.expires_at ? Date.parse(row.expires_at) : null,
        lastUsedAtMs: row.last_used_at ? Date.parse(row.last_used_at) : null,
        dataVersion,
      };
      if (dataVersion !== undefined) {
        kept.delete(hash);
        kept.set(hash, found);
        if (kept.size > KEPT_TOKENS) kept.delete(kept.keys().next().value!);
      }
      return found;
    },
  };
}

/**
 * A token's `last_used_at`, recorded at most once a minute a token, and written behind the request
 * that used it: uses wait in memory and are written together every `USE_FLUSH_MS`, in one
 * transaction. Written on the request, each was a commit of its own, fsynced on the event loop
 * (30–90 ms measured on a busy disk, every request waiting behind it), and each commit retires
 * every lookup and answer this process keeps while nothing is committed: twenty brands' tokens
 * first used in the same second were twenty such stalls. A crash loses at most the last
 * `USE_FLUSH_MS` of stamps: the field says roughly when, never whether, a token works.
 */
function tokenUses(db: Db, clock: Clock) {
  /** Uses not written yet: token id → when. */
  const pending = new Map<string, number>();
  /** When this process last recorded each token's use (pending or written), for the once-a-minute rule. */
  const recorded = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();

  async function write(): Promise<void> {
    timer = undefined;
    const batch = [...pending];
    pending.clear();
    const now = clock.now().getTime();
    for (const [id, at] of recorded) if (at < now - USE_EVERY_MS) recorded.delete(id);
    if (batch.length === 0) return;
    await db.transaction().execute(async (trx) => {
      for (const [id, at] of batch) await store.touchToken(trx, id, toTimestamp(new Date(at)));
    });
  }

  return {
    used(token: AuthenticatedToken, now: number): void {
      const id = token.principal.tokenId;
      const last = Math.max(token.lastUsedAtMs ?? Number.NEGATIVE_INFINITY, recorded.get(id) ?? Number.NEGATIVE_INFINITY);
      if (last >= now - USE_EVERY_MS) return;
      recorded.set(id, now);
      pending.set(id, now);
      timer ??= setTimeout(() => {
        writing = writing.then(write).catch(() => {
          // A stamp not written is a hint lost, never a token that stops working.
        });
      }, USE_FLUSH_MS).unref();
    },
    async flush(): Promise<void> {
      clearTimeout(timer);
      writing = writing.then(write).catch(() => {});
      await writing;
    },
  };
}

/** A token's use is recorded at most this often. */
const USE_EVERY_MS = 60_000;
/** How long recorded uses wait in memory before they are written together. */
const USE_FLUSH_MS = 10_000;

const frozenOrNull = <T>(list: T[] | null): T[] | null => (list ? (Object.freeze(list) as T[]) : null);
