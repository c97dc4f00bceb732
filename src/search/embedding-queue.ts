/**
 * With a remote embeddings endpoint, a changed ticket's keyword entry is written in its
 * transaction and its vector follows from `search_embed_queue`, drained here outside any
 * transaction (no HTTP call may run inside one).
 */
import type { Db } from '../db/schema.js';
import { type Clock, toTimestamp } from '../shared/clock.js';
import { EmbeddingEndpointError } from './embedding/openai-compatible.js';
import type { EmbedderProvider } from './embedder-provider.js';
import * as store from './store.js';
import { encodeVector } from './vector-index.js';

/** Characters of a ticket's text sent to a remote endpoint (~2,000 tokens: within common model limits). */
const REMOTE_MAX_CHARS = 8000;
/** Statuses by which an endpoint refuses a request's content (not its own availability). */
const REJECTED = new Set([400, 413, 422]);
/** Times a ticket refused alone is retried before it leaves the queue. */
const MAX_REJECTIONS = 5;
/** Tickets one maintenance run embeds at most, so the job yields to the next run. */
const DRAIN_LIMIT = 10_000;

export interface EmbeddingQueueDeps {
  db: Db;
  clock: Clock;
  embedderProvider: EmbedderProvider;
  /** Without a remote endpoint nothing is ever queued: every call returns 0. */
  remote: boolean;
}

export function createEmbeddingQueue(deps: EmbeddingQueueDeps) {
  const { db, clock, embedderProvider, remote } = deps;
  /** After a failure of the endpoint as a whole, no request before `until` (ms since the epoch). */
  const drainBackoff = { failures: 0, until: 0 };

  /**
   * Embeds up to `limit` queued tickets through the remote endpoint, outside any transaction;
   * returns how many got a vector. The queue is drained fewest attempts first, then oldest, so a
   * ticket that keeps failing never holds up newer ones. When the endpoint fails as a whole (network,
   * timeout, 401/403/404, 429, 5xx) the items stay queued, their attempts grow, the error is thrown
   * (the job logs it) and no request is sent for 1 s, 2 s, 4 s … up to 60 s after. When it rejects
   * a batch (400, 413, 422), the batch is retried one ticket at a time: a ticket rejected alone
   * `MAX_REJECTIONS` times leaves the queue (it keeps its previous vector, or none).
   */
  async function embedPending(limit = 64): Promise<number> {
    if (!remote) return 0;
    if (clock.now().getTime() < drainBackoff.until) return 0;
    const queued = await store.nextQueuedForEmbedding(db, limit);
    if (queued.length === 0) return 0;
    const texts = await store.loadTicketTexts(
      db,
      queued.map((q) => q.ticket_id),
    );
    const embedder = await embedderProvider.load();
    const input = (t: store.TicketText) => store.semanticTextOf(t).slice(0, REMOTE_MAX_CHARS);
    const failed = (ticketIds: readonly string[]) => store.countEmbeddingAttempt(db, ticketIds);
    const done: { text: store.TicketText; vector: Float32Array }[] = [];
    const rejected: string[] = [];
    try {
      const vectors = await embedder.embed(texts.map(input));
      texts.forEach((text, i) => {
        done.push({ text, vector: vectors[i]! });
      });
    } catch (err) {
      if (!(err instanceof EmbeddingEndpointError) || !REJECTED.has(err.status) || texts.length < 2) {
        if (err instanceof EmbeddingEndpointError && REJECTED.has(err.status)) rejected.push(texts[0]!.ticketId);
        else {
          drainBackoff.failures++;
          drainBackoff.until = clock.now().getTime() + Math.min(60_000, 1000 * 2 ** (drainBackoff.failures - 1));
          await failed(queued.map((q) => q.ticket_id));
          throw err;
        }
      } else {
        // One input is likely refused (too long for the model, …): find it, embed the others.
        for (const text of texts) {
          try {
            const [vector] = await embedder.embed([input(text)]);
            done.push({ text, vector: vector! });
          } catch (one) {
            if (!(one instanceof EmbeddingEndpointError) || !REJECTED.has(one.status)) throw one;
            rejected.push(text.ticketId);
          }
        }
      }
    }
    drainBackoff.failures = 0;
    drainBackoff.until = 0;
    const rejectedSet = new Set(rejected);
    const dropped = queued.filter((q) => rejectedSet.has(q.ticket_id) && q.attempts + 1 >= MAX_REJECTIONS);
    await failed(rejected.filter((id) => !dropped.some((q) => q.ticket_id === id)));
    await db.transaction().execute(async (trx) => {
      const { seq } = await store.nextSeq(trx);
      const at = toTimestamp(clock.now());
      for (const { text, vector } of done) {
        await store.writeDocumentVector(trx, text.ticketId, encodeVector(vector), embedder.id, seq, at);
      }
      // A ticket changed again since it was read stays queued (its queued_at moved on); a deleted one leaves.
      const present = new Set(texts.map((t) => t.ticketId));
      const leaving = queued.filter((q) => !present.has(q.ticket_id) || !rejectedSet.has(q.ticket_id) || dropped.includes(q));
      for (const q of leaving) await store.dequeueEmbedding(trx, q.ticket_id, q.queued_at);
    });
    if (dropped.length) {
      throw new Error(
        `embeddings endpoint refused ${dropped.length} ticket(s) ${MAX_REJECTIONS} times; left without a new vector: ${dropped.map((q) => q.ticket_id).join(', ')}`,
      );
    }
    return done.length;
  }

  return {
    embedPending,

    /** Embeds queued tickets batch after batch until the queue is empty or `DRAIN_LIMIT` is reached; returns how many got a vector. */
    async drain(): Promise<number> {
      let total = 0;
      for (let n = -1; n !== 0 && total < DRAIN_LIMIT; total += n) n = await embedPending();
      return total;
    },
  };
}
