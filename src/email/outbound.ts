import type { Readable } from 'node:stream';
import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Db, DbOrTx, TicketRow } from '../db/schema.js';
import type { AttachmentService } from '../attachments/service.js';
import type { BrandService } from '../brands/service.js';
import { type Clock, toTimestamp } from '../shared/clock.js';
import type { MessageAttachments, MessageMailer } from '../tickets/service.js';
import { fromJsonText } from '../shared/json.js';
import * as ticketStore from '../tickets/store.js';
import { nextRetryDelay } from '../webhooks/retry-policy.js';
import { recordDelivery } from './delivery.js';
import { type ReplyTokens, replySubject, splitAddress } from './reply-token.js';
import * as store from './store.js';

/** The domain of our Message-IDs: the host of NEXUS_PUBLIC_URL. */
const messageIdDomain = (publicUrl: string): string => new URL(publicUrl).hostname.replace(/^\[|\]$/g, '') || 'nexuscore.invalid';

/**
 * The ticket service's mailer: a live public agent message is queued (in its own transaction)
 * with the Message-ID it will be sent with. Off (nothing queued, `delivery: null`) without
 * NEXUS_MAIL_RELAY_URL.
 */
export function createMessageMailer(config: Pick<Config, 'email' | 'publicUrl'>): MessageMailer {
  const domain = messageIdDomain(config.publicUrl);
  return {
    messageIdFor: (_ticket: TicketRow, messageId: string) => (config.email.relayUrl ? `${messageId}@${domain}` : undefined),
    async enqueue(trx: DbOrTx, entry) {
      await store.insertOutboxEntry(trx, {
        message_id: entry.message_id,
        ticket_id: entry.ticket_id,
        next_attempt_at: entry.at,
        locked_until: null,
        created_at: entry.at,
      });
      wakeSenders();
    },
  };
}

// In-process nudge: a commit that queued mail wakes this process's sender at once.
const wakers = new Set<() => void>();
function wakeSenders(): void {
  for (const wake of wakers) setImmediate(wake);
}

export interface MailSenderDeps {
  db: Db;
  clock: Clock;
  config: Pick<Config, 'email' | 'publicUrl'>;
  brands: BrandService;
  attachments: AttachmentService;
  messageAttachments: MessageAttachments;
  replyTokens: ReplyTokens;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
}

/** How long a claim holds; a sender that dies mid-send loses its claim after this. */
const LEASE_MS = 120_000;

/** An SMTP answer in the 5xx range: the relay refused for good; trying again would not help. */
const isPermanent = (err: unknown): boolean => {
  const code = (err as { responseCode?: number }).responseCode;
  return typeof code === 'number' && code >= 500 && code < 600;
};

/**
 * Sends queued replies through NEXUS_MAIL_RELAY_URL with nodemailer: from the brand's first
 * address, to the customer and the message's cc, threaded (Message-ID, In-Reply-To, References),
 * with the reply token in Reply-To and the ticket reference in the subject, with the message's
 * attachments. A failure is retried on NEXUS_MAIL_RETRY_SCHEDULE; a 5xx answer or the end of the
 * schedule marks the message failed and emits `ticket.message_delivery_failed`. Several processes
 * may run one: entries are claimed under a lease (at-least-once: a sender killed after the relay
 * took a mail but before recording it sends it again).
 */
export function createMailSender(deps: MailSenderDeps) {
  const { db, clock, config, log } = deps;
  const relayUrl = config.email.relayUrl;
  const transport = relayUrl ? nodemailer.createTransport(relayUrl) : undefined;
  let running: Promise<number> | undefined;
  let again = false;

  async function sendOne(messageId: string): Promise<void> {
    const message = await store.findMessage(db, messageId);
    const ticket = message ? await ticketStore.findTicket(db, message.ticket_id) : undefined;
    if (!message || !ticket || !transport) {
      await store.deleteOutboxEntry(db, messageId);
      return;
    }
    const attempts = Number(message.delivery_attempts) + 1;
    const now = clock.now();
    const fail = async (error: string, permanent: boolean) => {
      const delay = permanent ? undefined : nextRetryDelay(attempts, config.email.retryScheduleMs);
      await db.transaction().execute(async (trx) => {
        if (delay === undefined) {
          await store.deleteOutboxEntry(trx, messageId);
          await recordDelivery(trx, deps.messageAttachments, message, { status: 'failed', attempts, last_error: error, at: now });
        } else {
          // Stored to the second: rounded up, so that a retry never comes before its delay (a
          // jittered 0.9 s from 10:00:00.000 would otherwise be due at once, at 10:00:00).
          await store.rescheduleOutboxEntry(trx, messageId, toTimestamp(new Date(Math.ceil((clock.now().getTime() + delay) / 1000) * 1000)));
          await recordDelivery(trx, deps.messageAttachments, message, { status: 'queued', attempts, last_error: error, at: now });
        }
      });
      log.warn({ message_id: messageId, attempts, error, final: delay === undefined }, 'e-mail of a reply failed');
    };
    const from = (await deps.brands.addressesOf(ticket.brand_id))[0];
    if (!from) return fail('the brand has no e-mail address to send from (PATCH /v1/brands/{id} email_addresses)', true);
    const brand = await deps.brands.get(null, ticket.brand_id);
    const thread = await store.listThreadIds(db, ticket.id);
    const earlier = thread.filter((m) => m.id !== messageId);
    const lastReceived = [...earlier].reverse().find((m) => m.author_type === 'customer') ?? earlier[earlier.length - 1];
    const { base } = splitAddress(from);
    const [local, domain] = [base.slice(0, base.lastIndexOf('@')), base.slice(base.lastIndexOf('@') + 1)];
    const files = await deps.attachments.contentsOf(messageId);
    const opened: Readable[] = [];
    try {
      const attachments = [];
      for (const f of files) {
        const content = await f.open();
        opened.push(content);
        attachments.push({ filename: f.file_name, contentType: f.content_type, content });
      }
      await transport.sendMail({
        from: { name: config.email.fromName ?? brand.name, address: from },
        to: { name: ticket.customer_name ?? '', address: ticket.customer_email },
        cc: fromJsonText<string[]>(message.cc, []),
        replyTo: `${local}+${deps.replyTokens.tokenFor(ticket.id)}@${domain}`,
        subject: replySubject(ticket.subject, ticket.id),
        text: message.body,
        messageId: `<${message.email_message_id}>`,
        ...(lastReceived ? { inReplyTo: `<${lastReceived.email_message_id}>` } : {}),
        ...(earlier.length ? { references: earlier.map((m) => `<${m.email_message_id}>`) } : {}),
        attachments,
      });
    } catch (err) {
      for (const s of opened) s.destroy();
      return fail(String((err as Error).message ?? err).slice(0, 500), isPermanent(err));
    }
    await db.transaction().execute(async (trx) => {
      await store.deleteOutboxEntry(trx, messageId);
      await recordDelivery(trx, deps.messageAttachments, message, { status: 'sent', attempts, last_error: null, at: now });
    });
  }

  /** Sends everything due now, a batch at a time; returns how many it tried. */
  async function drainOnce(): Promise<number> {
    let tried = 0;
    for (;;) {
      const now = clock.now();
      const claimed = await store.claimDueOutbox(db, { now: toTimestamp(now), leaseUntil: toTimestamp(new Date(now.getTime() + LEASE_MS)), limit: 10 });
      if (claimed.length === 0) return tried;
      await Promise.all(
        claimed.map((id) =>
          sendOne(id).catch((err: unknown) => {
            log.error({ err, message_id: id }, 'sending a reply by e-mail failed unexpectedly; it is retried when its claim lapses');
          }),
        ),
      );
      tried += claimed.length;
    }
  }

  return {
    enabled: transport !== undefined,

    /** Sends what is due; concurrent calls share one run (and one more runs if asked meanwhile). */
    async drain(): Promise<number> {
      if (!transport) return 0;
      if (running) {
        again = true;
        return running;
      }
      running = (async () => {
        let total = 0;
        do {
          again = false;
          total += await drainOnce();
        } while (again);
        return total;
      })().finally(() => {
        running = undefined;
      });
      return running;
    },

    /** Drains on every in-process commit that queued mail, and every `pollMs` for retries and other processes' mail. */
    start(pollMs = 1000): () => Promise<void> {
      if (!transport) return async () => {};
      const tick = () => {
        this.drain().catch((err: unknown) => log.error({ err }, 'e-mail sender failed'));
      };
      wakers.add(tick);
      const timer = setInterval(tick, pollMs);
      setImmediate(tick);
      return async () => {
        wakers.delete(tick);
        clearInterval(timer);
        await running?.catch(() => {});
        transport.close();
      };
    },
  };
}

export type MailSender = ReturnType<typeof createMailSender>;
