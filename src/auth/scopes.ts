export const SCOPES = ['tickets:read', 'tickets:write', 'webhooks:manage', 'email:ingest', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** What an authenticated request may do; carried on the request and handed to services. */
export interface Principal {
  tokenId: string;
  tokenName: string;
  scopes: Scope[];
  /** null: every brand. Otherwise anything of another brand looks exactly like a missing id. */
  brandIds: string[] | null;
  /** When the token stops working; null or absent: never. Tokens it creates cannot outlive it. */
  expiresAt?: string | null;
  /** Who the audit trail names instead of the token: set for the server's own callers (the SMTP listener). */
  actor?: Actor;
  /** The agent the token belongs to (`agent_id`): messages written with it are attributed to them. */
  agent?: { id: string; name: string; email: string } | null;
}

/** `admin` implies every scope; `tickets:write` implies `tickets:read` (a writer reads what it writes). */
export function hasScope(principal: Principal, needed: Scope): boolean {
  if (principal.scopes.includes('admin') || principal.scopes.includes(needed)) return true;
  return needed === 'tickets:read' && principal.scopes.includes('tickets:write');
}

export function canSeeBrand(principal: Principal, brandId: string): boolean {
  return principal.brandIds === null || principal.brandIds.includes(brandId);
}

/**
 * Whether something covering `brandIds` (null: every brand) lies wholly inside the principal's
 * brands. Only a principal for every brand covers something for every brand.
 */
export function coversBrands(principal: Principal, brandIds: readonly string[] | null): boolean {
  if (principal.brandIds === null) return true;
  return brandIds?.every((b) => principal.brandIds!.includes(b)) ?? false;
}

/** Who made a change, as the audit trail records it. */
export interface Actor {
  type: 'token' | 'system';
  id: string | null;
  name: string;
  /** The agent the token belongs to, when it does: the person behind the token, for the audit trail. */
  agent?: { id: string; name: string } | null | undefined;
}

export const systemActor: Actor = { type: 'system', id: null, name: 'system' };

export const actorOf = (principal: Principal): Actor =>
  principal.actor ?? {
    type: 'token',
    id: principal.tokenId,
    name: principal.tokenName,
    agent: principal.agent ? { id: principal.agent.id, name: principal.agent.name } : null,
  };

/** The audit columns of an actor (`actor_agent_*`, migration 0018, null when no agent acted). */
export const auditActorColumns = (actor: Actor) => ({
  actor_type: actor.type,
  actor_id: actor.id,
  actor_name: actor.name,
  actor_agent_id: actor.agent?.id ?? null,
  actor_agent_name: actor.agent?.name ?? null,
});

/** The server acting on its own behalf for every brand (mail received by the SMTP listener), named `name` in the audit trail. */
export const systemPrincipal = (name: string): Principal => ({
  tokenId: `system:${name}`,
  tokenName: name,
  scopes: ['admin'],
  brandIds: null,
  actor: { type: 'system', id: null, name },
});
