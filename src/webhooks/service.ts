import type { Static } from 'typebox';
import type { Db, DbOrTx, WebhookEndpointRow } from '../db/schema.js';
import type { SecretBox } from '../shared/secret-box.js';
import { type Principal, canSeeBrand, coversBrands } from '../auth/scopes.js';
import { unknownBrand, visibleBrandIds } from '../brands/visibility.js';
import { TEST_EVENT_TYPE } from '../events/outbox.js';
import { signalDispatchWork } from '../events/signal.js';
import * as eventStore from '../events/store.js';
import { type CursorCodec, cursorId } from '../http/cursor.js';
import { type Page, pageOf, readCursor } from '../http/pagination.js';
import { AppError, type FieldError, notFound } from '../http/problem.js';
import { type Clock, toTimestamp } from '../shared/clock.js';
import { isId, newId } from '../shared/ids.js';
import { toJsonText } from '../shared/json.js';
import {
  type DeliveryView,
  SECRET_OVERLAP_MS,
  SUBSCRIBABLE_EVENT_TYPES,
  type WebhookView,
  endpointBrands,
  newDeliveryRow,
  preciseInstant,
  toDeliveryView,
  toWebhookView,
} from './model.js';
import { generateSecret } from './signing.js';
import { refusedAtSave } from './ssrf-guard.js';
import type { ListDeliveriesQuery, ListWebhooksQuery } from './schemas.js';
import * as store from './store.js';

export interface CreateWebhookInput {
  url: string;
  events: string[];
  brand_ids?: string[] | undefined;
  description?: string | null | undefined;
  enabled?: boolean | undefined;
}

export interface UpdateWebhookInput {
  url?: string | undefined;
  events?: string[] | undefined;
  brand_ids?: string[] | null | undefined;
  description?: string | null | undefined;
  enabled?: boolean | undefined;
}

export interface WebhookServiceDeps {
  db: Db;
  clock: Clock;
  /** NEXUS_WEBHOOK_ALLOW_PRIVATE: lifts the private-address refusal (development, tests). */
  allowPrivate: boolean;
  /** Seals endpoint secrets before they are stored. */
  secretBox: SecretBox;
  /** Signs and checks pagination cursors. */
  cursors: CursorCodec;
}

const URL_MAX_LENGTH = 2048;

const invalid = (errors: FieldError[]): AppError => new AppError('validation_failed', errors.map((e) => `${e.pointer} ${e.message}`).join('; '), { errors });

/** Endpoint management: register, list, change, rotate secrets, test, read the delivery log, retry. */
export function createWebhookService(deps: WebhookServiceDeps) {
  const { db, clock, secretBox, cursors } = deps;

  /**
   * A brand-restricted token sees an endpoint only when every brand the endpoint covers is one of
   * its own; an endpoint for all brands belongs to unrestricted tokens. Otherwise it is a 404.
   */
  function canSee(principal: Principal, row: WebhookEndpointRow): boolean {
    return coversBrands(principal, endpointBrands(row));
  }

  async function getVisible(dbx: DbOrTx, principal: Principal, id: string): Promise<WebhookEndpointRow> {
    const row = isId('wh', id) ? await store.findEndpoint(dbx, id) : undefined;
    if (!row || !canSee(principal, row)) throw notFound('Webhook', id);
    return row;
  }

  /**
   * A delivery in the endpoint's log, as the caller may see it: a brand-restricted token sees only
   * deliveries of its brands' events (and the endpoint's test events), even when the endpoint once
   * served other brands. Anything else is a 404 like a missing id.
   */
  async function getVisibleDelivery(principal: Principal, endpointId: string, deliveryId: string) {
    const row = await store.findDelivery(db, endpointId, deliveryId);
    if (!row) throw notFound('Delivery', deliveryId);
    const brand = principal.brandIds === null ? null : await store.findEventBrand(db, row.event_id);
    if (brand !== null && !canSeeBrand(principal, brand)) throw notFound('Delivery', deliveryId);
    return row;
  }

  function checkUrl(text: string): string {
    // The URL parser would silently delete tabs and line breaks, and trim the ends: refuse them instead.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is what this pattern is for
    if (/[\u0000-\u001f\u007f]/.test(text) || text !== text.trim()) {
      throw invalid([{ pointer: '/url', message: 'must not contain control characters or surrounding whitespace' }]);
    }
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw invalid([{ pointer: '/url', message: 'must be an absolute http or https URL' }]);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid([{ pointer: '/url', message: 'must use http or https' }]);
    if (url.username || url.password) throw invalid([{ pointer: '/url', message: 'must not carry credentials; verify the signature instead' }]);
    const refused = refusedAtSave(url, deps.allowPrivate);
    if (refused) throw invalid([{ pointer: '/url', message: refused }]);
    // Normalising percent-encodes (a space or an é becomes 3-6 characters): what is stored must still
    // be a URL the API would accept back, say in a PATCH of a copy of the endpoint.
    const normalized = url.toString();
    if (normalized.length > URL_MAX_LENGTH) {
      throw invalid([{ pointer: '/url', message: `must be at most ${URL_MAX_LENGTH} characters once normalised (percent-encoded)` }]);
    }
    return normalized;
  }

  function checkEvents(events: string[]): string[] {
    const errors: FieldError[] = [];
    events.forEach((type, i) => {
      if (type !== '*' && !SUBSCRIBABLE_EVENT_TYPES.includes(type)) {
        errors.push({ pointer: `/events/${i}`, message: `is not an event type; use * or one of: ${SUBSCRIBABLE_EVENT_TYPES.join(', ')}` });
      }
    });
    if (errors.length) throw invalid(errors);
    return events.includes('*') ? ['*'] : [...new Set(events)];
  }

  /** Brands must exist and be the caller's; a restricted caller's endpoint defaults to its own brands. */
  async function checkBrands(principal: Principal, brandIds: string[] | null | undefined): Promise<string[] | null> {
    if (brandIds === undefined || brandIds === null) {
      if (principal.brandIds !== null) {
        if (brandIds === null) throw invalid([{ pointer: '/brand_ids', message: 'must list brands: this token is restricted to some brands' }]);
        return [...principal.brandIds];
      }
      return null;
    }
    const visible = await visibleBrandIds(db, principal, brandIds);
    const errors = brandIds.flatMap((id, i) => (visible.has(id) ? [] : [unknownBrand(`/brand_ids/${i}`, id)]));
    if (errors.length) throw invalid(errors);
    return [...new Set(brandIds)];
  }

  return {
    /** Registers an endpoint. The secret is in the answer, and only here and on rotation. */
    async create(principal: Principal, input: CreateWebhookInput): Promise<WebhookView & { secret: string }> {
      const url = checkUrl(input.url);
      const events = checkEvents(input.events);
      const brandIds = await checkBrands(principal, input.brand_ids);
      const now = clock.now();
      const at = toTimestamp(now);
      const enabled = input.enabled ?? true;
      const secret = generateSecret();
      const row: WebhookEndpointRow = {
        id: newId('wh', now.getTime()),
        url,
        description: input.description?.trim() || null,
        events: toJsonText(events),
        brand_ids: brandIds === null ? null : toJsonText(brandIds),
        enabled: enabled ? 1 : 0,
        disabled_reason: enabled ? null : 'manual',
        secret: secretBox.seal(secret),
        previous_secret: null,
        previous_secret_expires_at: null,
        failing_since: null,
        created_at: at,
        updated_at: at,
      };
      await store.insertEndpoint(db, row);
      return { ...toWebhookView(row, now), secret };
    },

    async get(principal: Principal, id: string): Promise<WebhookView> {
      return toWebhookView(await getVisible(db, principal, id), clock.now());
    },

    /** Newest first; only the endpoints this token may see. */
    async list(principal: Principal, query: Static<typeof ListWebhooksQuery>): Promise<Page<WebhookView>> {
      let beforeId = (await readCursor(cursors, 'webhooks', {}, query.after, [cursorId('wh')]))?.[0];
      const now = clock.now();
      const visible: WebhookEndpointRow[] = [];
      // Visibility is a JSON test done here, so read in batches until the page and one more are found.
      for (;;) {
        const rows = await store.listEndpoints(db, { beforeId, limit: 200 });
        for (const row of rows) {
          if (!canSee(principal, row)) continue;
          visible.push(row);
          if (visible.length > query.limit) break;
        }
        if (visible.length > query.limit || rows.length < 200) break;
        beforeId = rows[rows.length - 1]!.id;
      }
      return pageOf(
        visible,
        query.limit,
        (row) => toWebhookView(row, now),
        (last) => cursors.encode('webhooks', {}, [last.id]),
      );
    },

    /** Partial update. Enabling clears the disabled reason and the failure streak. */
    async update(principal: Principal, id: string, input: UpdateWebhookInput): Promise<WebhookView> {
      const row = await getVisible(db, principal, id);
      const set: Partial<WebhookEndpointRow> = {};
      if (input.url !== undefined) set.url = checkUrl(input.url);
      if (input.events !== undefined) set.events = toJsonText(checkEvents(input.events));
      if (input.brand_ids !== undefined) {
        const brands = await checkBrands(principal, input.brand_ids);
        set.brand_ids = brands === null ? null : toJsonText(brands);
      }
      if (input.description !== undefined) set.description = input.description?.trim() || null;
      if (input.enabled !== undefined && input.enabled !== (row.enabled === 1)) {
        set.enabled = input.enabled ? 1 : 0;
        set.disabled_reason = input.enabled ? null : 'manual';
        set.failing_since = null;
      }
      const now = clock.now();
      if (Object.keys(set).length) {
        set.updated_at = toTimestamp(now);
        const narrowedTo = set.brand_ids ? endpointBrands({ brand_ids: set.brand_ids }) : null;
        await db.transaction().execute(async (trx) => {
          await store.updateEndpoint(trx, id, set);
          // Brands it no longer covers: their events must not reach it by a later retry.
          if (narrowedTo) await store.cancelDeliveriesOutsideBrands(trx, id, narrowedTo, preciseInstant(now));
        });
        if (set.enabled === 1) signalDispatchWork(); // its paused deliveries may go now
      }
      return toWebhookView({ ...row, ...set }, now);
    },

    /** Deletes the endpoint with its delivery log; nothing more is sent to it. */
    async remove(principal: Principal, id: string): Promise<void> {
      await getVisible(db, principal, id);
      await db.transaction().execute((trx) => store.deleteEndpoint(trx, id));
    },

    /** A new secret; the replaced one keeps signing beside it for 24 hours so receivers can switch over. */
    async rotateSecret(principal: Principal, id: string): Promise<WebhookView & { secret: string }> {
      const row = await getVisible(db, principal, id);
      const now = clock.now();
      const secret = generateSecret();
      const set = {
        secret: secretBox.seal(secret),
        previous_secret: row.secret,
        previous_secret_expires_at: toTimestamp(new Date(now.getTime() + SECRET_OVERLAP_MS)),
        updated_at: toTimestamp(now),
      };
      await store.updateEndpoint(db, id, set);
      return { ...toWebhookView({ ...row, ...set }, now), secret };
    },

    /** Queues a `webhook.test` event for this endpoint alone, whatever its event filter. */
    async sendTest(principal: Principal, id: string): Promise<DeliveryView> {
      const row = await getVisible(db, principal, id);
      if (row.enabled !== 1) throw new AppError('conflict', `Webhook ${id} is disabled; enable it first`);
      const now = clock.now();
      const at = preciseInstant(now);
      const event = {
        id: newId('evt', now.getTime()),
        type: TEST_EVENT_TYPE,
        brand_id: null,
        ticket_id: null,
        data: toJsonText({ webhook_id: id, message: 'A test event from NexusCore: your endpoint is reachable.' }),
        created_at: toTimestamp(now),
      };
      const delivery = newDeliveryRow(id, event, at, newId('dlv', now.getTime()));
      // Not through recordEvent: a test goes to this endpoint only, never fanned out to others.
      await db.transaction().execute(async (trx) => {
        await eventStore.insertEvent(trx, event);
        await store.insertDeliveries(trx, [delivery]);
      });
      signalDispatchWork();
      return toDeliveryView(delivery, []);
    },

    /** Every delivery with every attempt, newest first. */
    async listDeliveries(principal: Principal, id: string, query: Static<typeof ListDeliveriesQuery>): Promise<Page<DeliveryView>> {
      await getVisible(db, principal, id);
      const filters = { id, status: query.status };
      const beforeId = (await readCursor(cursors, 'deliveries', filters, query.after, [cursorId('dlv')]))?.[0];
      const rows = await store.listDeliveries(db, {
        endpointId: id,
        status: query.status,
        beforeId,
        eventBrandIds: principal.brandIds,
        limit: query.limit + 1,
      });
      const page = await pageOf(
        rows,
        query.limit,
        (r) => r,
        (last) => cursors.encode('deliveries', filters, [last.id]),
      );
      const attempts = await store.listAttempts(
        db,
        page.data.map((r) => r.id),
      );
      return {
        data: page.data.map((r) =>
          toDeliveryView(
            r,
            attempts.filter((a) => a.delivery_id === r.id),
          ),
        ),
        next_cursor: page.next_cursor,
      };
    },

    async getDelivery(principal: Principal, id: string, deliveryId: string): Promise<DeliveryView> {
      await getVisible(db, principal, id);
      const row = await getVisibleDelivery(principal, id, deliveryId);
      return toDeliveryView(row, await store.listAttempts(db, [row.id]));
    },

    /**
     * Re-sends a delivery now, whatever its status. If that attempt fails, the automatic retries
     * the schedule still has left continue; a delivery that had used them all fails again.
     */
    async retryDelivery(principal: Principal, id: string, deliveryId: string): Promise<DeliveryView> {
      const endpoint = await getVisible(db, principal, id);
      const row = await getVisibleDelivery(principal, id, deliveryId);
      if (endpoint.enabled !== 1) throw new AppError('conflict', `Webhook ${id} is disabled; enable it first`);
      const brand = await store.findEventBrand(db, row.event_id);
      const covered = endpointBrands(endpoint);
      if (brand !== null && covered !== null && !covered.includes(brand)) {
        throw new AppError('conflict', `Webhook ${id} no longer receives events of brand ${brand}; this delivery stays in the log only`);
      }
      const at = preciseInstant(clock.now());
      if (!(await store.requeueDelivery(db, deliveryId, at))) {
        throw new AppError('conflict', `Delivery ${deliveryId} is being sent right now; look at its attempts in a moment`);
      }
      const set = { status: 'pending', next_attempt_at: at, locked_by: null, locked_until: null, updated_at: at };
      signalDispatchWork();
      return toDeliveryView({ ...row, ...set }, await store.listAttempts(db, [row.id]));
    },
  };
}

export type WebhookService = ReturnType<typeof createWebhookService>;
