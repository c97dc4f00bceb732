import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../db/schema.js';
import type { Clock } from '../shared/clock.js';
import { toTimestamp } from '../shared/clock.js';
import { AppError } from './problem.js';
import type { SecretBox } from '../shared/secret-box.js';
import * as store from './idempotency-store.js';
import { addRouteHook } from './route-hooks.js';

const TTL_MS = 24 * 60 * 60 * 1000;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

declare module 'fastify' {
  interface FastifyRequest {
    idempotency: { tokenId: string; key: string } | null;
  }
}

/**
 * `Idempotency-Key` on POST: the first response (status, body, Location/ETag) is kept for 24 h
 * per token and key and replayed for the same request; the same key with another request is a
 * 422, and a duplicate that arrives while the first is still running is a 409. 5xx responses and
 * 409s are not kept, so the client may retry them with the same key. Kept bodies are encrypted.
 */
export function registerIdempotency(app: FastifyInstance, deps: { db: Db; clock: Clock; secretBox: SecretBox }): void {
  const { db, clock, secretBox } = deps;
  app.decorateRequest('idempotency', null);

  // On POST routes only: GET, PATCH and DELETE requests never pay for these hooks.
  app.addHook('onRoute', (route) => {
    if (![route.method].flat().includes('POST')) return;
    addRouteHook(route, 'preHandler', claimKey);
    addRouteHook(route, 'onSend', keepResponse);
  });

  async function claimKey(request: FastifyRequest, reply: FastifyReply) {
    const key = request.headers['idempotency-key'];
    if (key === undefined || !request.principal) return;
    if (typeof key !== 'string' || !KEY_PATTERN.test(key)) {
      throw new AppError('bad_request', 'Idempotency-Key must be 1-255 printable ASCII characters');
    }
    const tokenId = request.principal.tokenId;
    const methodPath = `${request.method} ${request.url}`;
    const requestHash = hashRequest(request);
    const now = clock.now();

    const existing = await store.findIdempotencyKey(db, tokenId, key);
    // An in-progress row older than a minute belongs to a request that died without answering.
    const stale =
      existing &&
      (Date.parse(existing.created_at) < now.getTime() - TTL_MS || (existing.state !== 'done' && Date.parse(existing.created_at) < now.getTime() - 60_000));
    if (existing && stale) {
      await store.deleteIdempotencyKey(db, tokenId, key);
    } else if (existing) {
      if (existing.request_hash !== requestHash || existing.method_path !== methodPath) {
        throw new AppError('idempotency_key_reused', 'This Idempotency-Key was used with a different request');
      }
      if (existing.state !== 'done') {
        throw new AppError('idempotency_in_progress', 'The first request with this Idempotency-Key is still running; retry shortly');
      }
      const headers = JSON.parse(existing.response_headers ?? '{}') as Record<string, string>;
      for (const [name, value] of Object.entries(headers)) reply.header(name, value);
      reply.header('Idempotent-Replayed', 'true');
      return reply.status(existing.response_status!).send(secretBox.open(existing.response_body!));
    }
    try {
      await store.insertIdempotencyKey(db, {
        token_id: tokenId,
        key,
        method_path: methodPath,
        request_hash: requestHash,
        state: 'in_progress',
        response_status: null,
        response_headers: null,
        response_body: null,
        created_at: toTimestamp(now),
      });
    } catch {
      // Lost the race against a concurrent duplicate that inserted first.
      throw new AppError('idempotency_in_progress', 'The first request with this Idempotency-Key is still running; retry shortly');
    }
    request.idempotency = { tokenId, key };
  }

  async function keepResponse(request: FastifyRequest, reply: FastifyReply, payload: unknown) {
    const slot = request.idempotency;
    if (!slot) return payload;
    request.idempotency = null;
    if (reply.statusCode >= 500 || reply.statusCode === 409 || reply.statusCode === 429 || typeof payload !== 'string') {
      await store.deleteIdempotencyKey(db, slot.tokenId, slot.key);
      return payload;
    }
    const headers: Record<string, string> = {};
    for (const name of ['content-type', 'location', 'etag']) {
      const value = reply.getHeader(name);
      if (value !== undefined) headers[name] = String(value);
    }
    await store.completeIdempotencyKey(db, slot.tokenId, slot.key, {
      response_status: reply.statusCode,
      response_headers: JSON.stringify(headers),
      // Sealed: a kept response may carry a secret shown once (a new token, a webhook secret).
      response_body: secretBox.seal(payload),
    });
    return payload;
  }
}

function hashRequest(request: FastifyRequest): string {
  return createHash('sha256')
    .update(JSON.stringify(request.body ?? null))
    .digest('hex');
}

/** Drops keys past their 24 h; run by the housekeeping job. */
export async function purgeExpiredIdempotencyKeys(db: Db, now: Date): Promise<void> {
  await store.deleteIdempotencyKeysBefore(db, toTimestamp(new Date(now.getTime() - TTL_MS)));
}
