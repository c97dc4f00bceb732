/*
 * Agents as the pages need them: the active ones a ticket may be assigned to, and a name for an
 * e-mail address. Loaded once per page view (the lists are small: one page of up to 100).
 */
import { api } from './api.js';
import type { Agent, Page } from './types.js';

const cache = new Map<string, Promise<Agent[]>>();

/** Active agents who may take tickets of `brandId` (agents of every brand included); every visible active agent without it. */
export function activeAgents(brandId?: string): Promise<Agent[]> {
  const key = brandId ?? '*';
  let found = cache.get(key);
  if (!found) {
    found = api
      .get<Page<Agent>>('/v1/agents', { active: 'true', limit: 100, brand_id: brandId })
      .then((p) => p.data)
      .catch((err: unknown) => {
        cache.delete(key);
        throw err;
      });
    cache.set(key, found);
  }
  return found;
}

/** Forgets the loaded lists, so the next page view sees agents added or deactivated meanwhile. */
export const forgetAgents = (): void => cache.clear();

/** "Name <email>" for a known agent, the address alone otherwise. */
export function agentLabel(email: string, agents: Agent[]): string {
  const a = agents.find((x) => x.email === email.toLowerCase());
  return a ? `${a.name} <${a.email}>` : email;
}

export const agentName = (email: string, agents: Agent[]): string => agents.find((x) => x.email === email.toLowerCase())?.name ?? email;
