import { isUniqueViolation } from '../db/errors.js';
import type { AgentRow, Db, DbOrTx } from '../db/schema.js';
import { type Principal, canSeeBrand, coversBrands } from '../auth/scopes.js';
import { unknownBrand, visibleBrandIds } from '../brands/visibility.js';
import { type CursorCodec, cursorId } from '../http/cursor.js';
import { type Page, pageOf, readCursor } from '../http/pagination.js';
import { AppError, notFound, validationError } from '../http/problem.js';
import { type Clock, toTimestamp } from '../shared/clock.js';
import { newId } from '../shared/ids.js';
import { fromJsonText, toJsonText } from '../shared/json.js';
import * as store from './store.js';

export const AGENT_ROLES = ['agent', 'admin'] as const;
export type AgentRole = (typeof AGENT_ROLES)[number];

export interface AgentView {
  id: string;
  name: string;
  email: string;
  role: AgentRole;
  /** null: every brand. */
  brand_ids: string[] | null;
  active: boolean;
  created_at: string;
  updated_at: string;
}

export interface CreateAgentInput {
  name: string;
  email: string;
  role?: AgentRole | undefined;
  brand_ids?: string[] | null | undefined;
}

export interface UpdateAgentInput {
  name?: string | undefined;
  email?: string | undefined;
  role?: AgentRole | undefined;
  brand_ids?: string[] | null | undefined;
  active?: boolean | undefined;
}

export interface ListAgentsQuery {
  brand_id?: string | undefined;
  email?: string | undefined;
  active?: boolean | undefined;
  limit: number;
  after?: string | undefined;
}

const normalizeEmail = (email: string): string => email.trim().toLowerCase();
const brandsOf = (row: AgentRow): string[] | null => fromJsonText<string[] | null>(row.brand_ids, null);

/**
 * The agent as `viewer` may see it: a brand-restricted viewer sees only the brands it shares with
 * the agent, so the listing never names a brand the viewer cannot see.
 */
function toAgentView(row: AgentRow, viewer: Principal | null): AgentView {
  const brands = brandsOf(row);
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    role: row.role as AgentRole,
    brand_ids: brands && viewer?.brandIds ? brands.filter((b) => viewer.brandIds!.includes(b)) : brands,
    active: Number(row.active) === 1,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** Whether the viewer may see the agent at all: it works on one of the viewer's brands, or on every brand. */
function canSeeAgent(viewer: Principal | null, row: AgentRow): boolean {
  if (!viewer || viewer.brandIds === null) return true;
  const brands = brandsOf(row);
  return brands === null || brands.some((b) => canSeeBrand(viewer, b));
}

/**
 * Agents: the people who work tickets. The list decides who may be assigned a ticket
 * (`checkAssignee`) and who a token belongs to (tokens carry an `agent_id`).
 */
export function createAgentService(deps: { db: Db; clock: Clock; cursors: CursorCodec }) {
  const { db, clock, cursors } = deps;

  /** The brand list a write asks for, checked against what the caller may grant (as tokens do). */
  async function checkBrands(principal: Principal | null, brandIds: string[] | null | undefined, current?: string[] | null): Promise<string[] | null> {
    if (brandIds === undefined) return current !== undefined ? current : (principal?.brandIds ?? null);
    if (brandIds === null) {
      if (principal?.brandIds) throw validationError('/brand_ids', 'must list brands: a brand-restricted token cannot make an agent of every brand');
      return null;
    }
    const unique = [...new Set(brandIds)];
    const visible = await visibleBrandIds(db, principal, unique);
    const i = unique.findIndex((id) => !visible.has(id));
    if (i !== -1) {
      const error = unknownBrand(`/brand_ids/${i}`, unique[i]!);
      throw validationError(error.pointer, error.message);
    }
    return unique;
  }

  const emailTaken = (email: string) =>
    new AppError('conflict', `An agent with the e-mail address ${email} exists already`, {
      errors: [{ pointer: '/email', message: 'is the address of another agent' }],
    });

  async function checkEmailFree(dbx: DbOrTx, email: string, exceptId?: string): Promise<void> {
    const other = await store.findAgentByEmail(dbx, email);
    if (other && other.id !== exceptId) throw emailTaken(email);
  }

  /** The work of a write that may claim an address: a concurrent claim the check did not see is the same 409. */
  async function claimingEmail<T>(email: string | undefined, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (email !== undefined && isUniqueViolation(err)) throw emailTaken(email);
      throw err;
    }
  }

  async function getVisible(principal: Principal | null, id: string): Promise<AgentRow> {
    const row = await store.findAgent(db, id);
    if (!row || !canSeeAgent(principal, row)) throw notFound('Agent', id);
    return row;
  }

  return {
    /**
     * Creates an agent. `email` is unique regardless of case (409 otherwise); `brand_ids` left out
     * means the caller's own brands (every brand for an unrestricted caller). Null principal: the
     * operator (CLI).
     */
    async create(principal: Principal | null, input: CreateAgentInput): Promise<AgentView> {
      const name = input.name.trim();
      if (!name) throw validationError('/name', 'must not be blank');
      const email = normalizeEmail(input.email);
      const brandIds = await checkBrands(principal, input.brand_ids);
      const at = toTimestamp(clock.now());
      const row: AgentRow = {
        id: newId('agt'),
        name,
        email,
        role: input.role ?? 'agent',
        brand_ids: brandIds ? toJsonText(brandIds) : null,
        active: 1,
        created_at: at,
        updated_at: at,
      };
      await claimingEmail(email, () =>
        db.transaction().execute(async (trx) => {
          await checkEmailFree(trx, email);
          await store.insertAgent(trx, row, brandIds);
        }),
      );
      return toAgentView(row, principal);
    },

    async get(principal: Principal | null, id: string): Promise<AgentView> {
      return toAgentView(await getVisible(principal, id), principal);
    },

    /** Agents of the caller's brands (and those of every brand), oldest first. */
    async list(principal: Principal, query: ListAgentsQuery): Promise<Page<AgentView>> {
      const { after, limit, ...filters } = query;
      let brandKeys: string[] | null = principal.brandIds ? [...principal.brandIds, store.EVERY_BRAND] : null;
      if (filters.brand_id !== undefined) brandKeys = canSeeBrand(principal, filters.brand_id) ? [filters.brand_id, store.EVERY_BRAND] : [];
      const afterId = (await readCursor(cursors, 'agents', filters, after, [cursorId('agt')]))?.[0];
      const rows = await store.listAgents(db, {
        brandKeys,
        email: filters.email !== undefined ? normalizeEmail(filters.email) : undefined,
        active: filters.active,
        afterId,
        limit: limit + 1,
      });
      return pageOf(
        rows,
        limit,
        (r) => toAgentView(r, principal),
        (last) => cursors.encode('agents', filters, [last.id]),
      );
    },

    /**
     * Changes an agent. A brand-restricted caller changes only agents wholly inside its brands
     * (403 otherwise: it may see one that also works elsewhere, but not speak for the other brands).
     */
    async update(principal: Principal | null, id: string, input: UpdateAgentInput): Promise<AgentView> {
      const row = await getVisible(principal, id);
      if (principal && !coversBrands(principal, brandsOf(row))) {
        throw new AppError('forbidden', `Agent ${id} also works on brands this token is not limited to; only a token covering all of them may change it`);
      }
      const set: Partial<AgentRow> = {};
      if (input.name !== undefined) {
        const name = input.name.trim();
        if (!name) throw validationError('/name', 'must not be blank');
        set.name = name;
      }
      if (input.email !== undefined) set.email = normalizeEmail(input.email);
      if (input.role !== undefined) set.role = input.role;
      if (input.active !== undefined) set.active = input.active ? 1 : 0;
      let brandIds: string[] | null | undefined;
      if (input.brand_ids !== undefined) {
        brandIds = await checkBrands(principal, input.brand_ids);
        set.brand_ids = brandIds ? toJsonText(brandIds) : null;
      }
      set.updated_at = toTimestamp(clock.now());
      await claimingEmail(set.email, () =>
        db.transaction().execute(async (trx) => {
          if (set.email !== undefined) await checkEmailFree(trx, set.email, id);
          await store.updateAgent(trx, id, set);
          if (brandIds !== undefined) await store.setAgentBrands(trx, id, brandIds);
        }),
      );
      return toAgentView({ ...row, ...set }, principal);
    },

    /**
     * Refuses (422 at `pointer`) an address that may not be assigned a ticket of `brandId`. A brand
     * with no agents at all takes any address, as before agents existed; once it has one (active or
     * not, directly or as an agent of every brand) the address must be an active agent of it.
     */
    async checkAssignee(dbx: DbOrTx, brandId: string, email: string, pointer: string): Promise<void> {
      const standing = await store.rosterStanding(dbx, brandId, normalizeEmail(email));
      if (standing.hasAgents && !standing.isActiveAgent) {
        throw validationError(pointer, `${email} is not an active agent of brand ${brandId}`);
      }
    },

    /** The agent a token may belong to: it exists, is active and the grantor can see it (else 422 at /agent_id). */
    async requireAssignableToToken(grantor: Principal | null, id: string): Promise<AgentRow> {
      const row = await store.findAgent(db, id);
      if (!row || !canSeeAgent(grantor, row)) throw validationError('/agent_id', `agent ${id} does not exist`);
      if (Number(row.active) !== 1) throw validationError('/agent_id', `agent ${id} is deactivated`);
      return row;
    },
  };
}

export type AgentService = ReturnType<typeof createAgentService>;
