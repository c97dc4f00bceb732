import { api, request, setToken } from './api.js';
import type { Brand, Scope, Token } from './types.js';

/** Who is signed in and what the token may do; the pages show only what it can use. */
export interface Session {
  me: Token;
  brands: Brand[];
}

let current: Session | null = null;
export const session = (): Session | null => current;
export const setSession = (s: Session | null): void => {
  current = s;
};

/** Same rules as the API: admin implies every scope, tickets:write implies tickets:read. */
export function can(scope: Scope): boolean {
  const scopes = current?.me.scopes ?? [];
  if (scopes.includes('admin') || scopes.includes(scope)) return true;
  return scope === 'tickets:read' && scopes.includes('tickets:write');
}

export async function loadSession(token?: string): Promise<Session> {
  // A token being signed in with is checked before it is kept.
  const me = token ? (await request<Token>('GET', '/v1/tokens/me', { token })).data : await api.get<Token>('/v1/tokens/me');
  if (token) setToken(token);
  let brands: Brand[] = [];
  // Brands need tickets:read; a webhooks-only token still gets its brand ids from the token itself.
  const readable = me.scopes.some((s) => s === 'admin' || s === 'tickets:read' || s === 'tickets:write');
  if (readable) {
    brands = (await api.get<{ data: Brand[] }>('/v1/brands', undefined).catch(() => ({ data: [] as Brand[] }))).data;
  } else if (me.brand_ids) {
    brands = me.brand_ids.map((id) => ({ id, name: id, email_addresses: [], default_queue_id: '', created_at: '', updated_at: '' }));
  }
  return { me, brands };
}

export const brandName = (id: string): string => current?.brands.find((b) => b.id === id)?.name ?? id;
