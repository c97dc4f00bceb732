import type { Config } from '../config.js';
import type { Db } from '../db/schema.js';
import { type Principal, canSeeBrand } from '../auth/scopes.js';
import type { AttachmentService } from '../attachments/service.js';
import type { BrandService } from '../brands/service.js';
import { AppError, validationError } from '../http/problem.js';
import { type Clock, toTimestamp } from '../shared/clock.js';
import { newId } from '../shared/ids.js';
import { LIMITS } from '../tickets/model.js';
import type { MessageAttachments, MessageWriteHook, TicketService, TicketWriteHook } from '../tickets/service.js';
import * as ticketStore from '../tickets/store.js';
import { recordDelivery } from './delivery.js';
import { bounceReason, bouncedMessageIds, classifyNoise } from './noise.js';
import { type MailAddress, type ParsedEmail, parseEmail } from './parse.js';
import { type ReplyTokens, splitAddress, ticketOfSubject } from './reply-token.js';
import * as store from './store.js';
import { trimReply } from './trim.js';

/** The SMTP envelope of a mail received by the listener. */
export interface Envelope {
  /** MAIL FROM; '' for the null reverse-path `<>` (bounces). */
  from: string;
  /** RCPT TO, as given. */
  to: string[];
}

export const INBOUND_OUTCOMES = ['ticket_created', 'message_added', 'duplicate', 'ignored', 'bounce'] as const;
export type InboundOutcome = (typeof INBOUND_OUTCOMES)[number];

export interface InboundResult {
  /** `inb_…`: the row that records the mail (null for a duplicate, which records nothing new). */
  id: string | null;
  outcome: InboundOutcome;
  /** Why a mail was ignored, or which messages a bounce marked failed. */
  reason: string | null;
  brand_id: string;
  ticket_id: string | null;
  message_id: string | null;
}

export interface InboundDeps {
  db: Db;
  clock: Clock;
  config: Pick<Config, 'attachmentMaxBytes' | 'email'>;
  brands: BrandService;
  tickets: TicketService;
  attachments: AttachmentService;
  messageAttachments: MessageAttachments;
  replyTokens: ReplyTokens;
}

/** The window of the per-sender limit (`NEXUS_MAIL_SENDER_LIMIT` mails per hour). */
const SENDER_WINDOW_MS = 60 * 60_000;

/** `text` cut to at most `max` UTF-8 bytes, on a character boundary, with a note saying so. */
function fitBytes(text: string, max: number): string {
  if (Buffer.byteLength(text, 'utf8') <= max) return text;
  const note = '\n\n[cut here: the whole text is in the original message, original.eml]';
  let cut = Buffer.from(text, 'utf8')
    .subarray(0, max - Buffer.byteLength(note, 'utf8'))
    .toString('utf8');
  cut = cut.replace(/\uFFFD$/, '');
  return cut + note;
}

/** At most `max` characters (code points). */
const fitChars = (text: string, max: number): string => [...text].slice(0, max).join('');

/**
 * Received mail, whichever way it came (the SMTP listener, `POST /v1/inbound/email`): a new ticket,
 * a customer message on the ticket it answers, or nothing (noise, our own mail, a duplicate), and
 * for a bounce of our mail that message marked failed. Everything is stored before this resolves:
 * the listener answers 250 only then.
 */
export function createInboundMail(deps: InboundDeps) {
  const { db, clock, config, brands, tickets, attachments } = deps;
  const maxBytes = config.email.smtpMaxBytes;

  /** The brand the mail is for: the first recipient that is an address of a brand the principal sees; and a reply token, if one rides on it. */
  async function recipientBrand(principal: Principal, recipients: string[]): Promise<{ brandId: string; token: string | undefined } | undefined> {
    let found: { brandId: string; token: string | undefined } | undefined;
    for (const recipient of recipients) {
      const { base, tag } = splitAddress(recipient);
      const brandId = await brands.brandOfAddress(base);
      if (!brandId || !canSeeBrand(principal, brandId)) continue;
      if (!found) found = { brandId, token: tag };
      else if (!found.token && tag && brandId === found.brandId) found.token = tag;
    }
    return found;
  }

  /** Our mailed messages a bounce names: marked failed (and their retries stopped). */
  async function applyBounce(raw: Buffer, brandId: string, at: Date): Promise<string[]> {
    const mailed = await store.findMailedMessages(db, bouncedMessageIds(raw));
    const reason = bounceReason(raw);
    const marked: string[] = [];
    for (const message of mailed) {
      const ticket = await ticketStore.findTicket(db, message.ticket_id);
      if (ticket?.brand_id !== brandId || message.delivery_status === 'failed') continue;
      await db.transaction().execute(async (trx) => {
        await store.deleteOutboxEntry(trx, message.id);
        await recordDelivery(trx, deps.messageAttachments, message, { status: 'failed', attempts: Number(message.delivery_attempts), last_error: reason, at });
      });
      marked.push(message.id);
    }
    return marked;
  }

  /** The ticket a mail answers: by Message-ID, by reply token, or by the subject's reference when the sender is one of the ticket's people. */
  async function threadOf(mail: ParsedEmail, brandId: string, token: string | undefined, sender: MailAddress): Promise<string | undefined> {
    const byId = await store.findMessageByEmailIds(db, brandId, mail.references);
    if (byId) return byId.ticket_id;
    if (token) {
      const ticketId = await deps.replyTokens.ticketOf(token);
      const ticket = ticketId ? await ticketStore.findTicket(db, ticketId) : undefined;
      if (ticket?.brand_id === brandId) return ticket.id;
    }
    const referenced = ticketOfSubject(mail.subject);
    if (referenced) {
      const ticket = await ticketStore.findTicket(db, referenced);
      if (ticket?.brand_id === brandId) {
        if (ticket.customer_email === sender.address) return ticket.id;
        const people = await ticketStore.listMessages(db, ticket.id);
        if (people.some((m) => m.author_email === sender.address || m.cc.includes(`"${sender.address}"`))) return ticket.id;
      }
    }
    return undefined;
  }

  return {
    /**
     * Takes one raw RFC 5322 message. Throws a 422 (`/to`) when no recipient is an address of a
     * brand the principal sees, a 422 (`/from`) when the mail names no sender at all, a 413 when it
     * is larger than NEXUS_SMTP_MAX_BYTES, a 429 when its sender is over the per-sender limit;
     * nothing is stored then.
     */
    async receive(principal: Principal, raw: Buffer, envelope?: Envelope): Promise<InboundResult> {
      if (raw.length > maxBytes) throw new AppError('payload_too_large', `The message is larger than the limit of ${maxBytes} bytes`);
      const mail = await parseEmail(raw);
      const headerRecipients = [mail.header('delivered-to'), mail.header('x-original-to')].filter((x): x is string => !!x);
      const recipients = envelope?.to.length ? envelope.to : [...mail.to, ...mail.cc].map((a) => a.address).concat(headerRecipients);
      const target = await recipientBrand(principal, recipients);
      if (!target) throw validationError('/to', 'no recipient of this message is an address of a brand (email_addresses of a brand this token can see)');
      const { brandId } = target;
      const now = clock.now();
      const at = toTimestamp(now);
      const id = newId('inb', now.getTime());
      const sender: MailAddress | null = mail.from ?? (envelope?.from ? { address: envelope.from.toLowerCase(), name: null } : null);

      const record = async (outcome: InboundOutcome, reason: string, extra: { ticket_id?: string; message_id?: string } = {}): Promise<InboundResult> => {
        const key = await attachments.storeBlob(raw, maxBytes);
        await store.insertInboundEmail(db, {
          id,
          brand_id: brandId,
          sender: sender?.address ?? null,
          rfc_message_id: mail.messageId,
          outcome,
          reason,
          ticket_id: extra.ticket_id ?? null,
          message_id: extra.message_id ?? null,
          raw_storage_key: key,
          size: raw.length,
          received_at: at,
        });
        return { id, outcome, reason, brand_id: brandId, ticket_id: extra.ticket_id ?? null, message_id: extra.message_id ?? null };
      };

      const noise = classifyNoise(mail, envelope?.from);
      if (noise === 'bounce') {
        const marked = await applyBounce(raw, brandId, now);
        return record('bounce', marked.length ? `marked failed: ${marked.join(', ')}` : 'a bounce of no message we sent');
      }
      if (noise) return record('ignored', noise === 'bulk' ? 'bulk mail (Precedence)' : 'an automatic reply (Auto-Submitted, X-Autoreply or a report)');
      if (!sender) throw validationError('/from', 'the message has no From address (and no envelope sender)');
      const own = new Set(await brands.allAddresses());
      if (own.has(splitAddress(sender.address).base)) return record('ignored', 'sent from one of our own addresses');

      if (mail.messageId) {
        const seen = await store.findMessageByEmailIds(db, brandId, [mail.messageId]);
        if (seen)
          return {
            id: null,
            outcome: 'duplicate',
            reason: 'a message with this Message-ID was received before',
            brand_id: brandId,
            ticket_id: seen.ticket_id,
            message_id: seen.id,
          };
      }
      const recent = await store.countAcceptedFromSender(db, sender.address, toTimestamp(new Date(now.getTime() - SENDER_WINDOW_MS)));
      if (recent >= config.email.senderLimitPerHour) {
        throw new AppError('rate_limited', `${sender.address} sent more than ${config.email.senderLimitPerHour} messages within an hour; try again later`, {
          headers: { 'Retry-After': '600' },
        });
      }
      const ticketId = await threadOf(mail, brandId, target.token, sender);

      // The bytes first (blob store), then one transaction for the rest: a crash in between leaves
      // only unlinked attachments, which the sweeper removes.
      const attachmentIds: string[] = [];
      const notes: string[] = [];
      for (const part of mail.attachments) {
        if (part.content.length > config.attachmentMaxBytes) {
          notes.push(`[${part.file_name} (${part.content.length} bytes) is over the attachment limit; it is in original.eml]`);
          continue;
        }
        attachmentIds.push(
          await attachments.storeReceived({ brand_id: brandId, file_name: part.file_name, content_type: part.content_type, content: part.content }),
        );
      }
      attachmentIds.push(
        await attachments.storeReceived({ brand_id: brandId, file_name: 'original.eml', content_type: 'message/rfc822', content: raw, maxBytes }),
      );

      const text = mail.text.trim() || (mail.attachments.length ? '(no text; see the attachments)' : '(no text)');
      const trimmed = trimReply(text);
      const body = fitBytes([trimmed ?? text, ...notes].join('\n\n'), ticketId ? LIMITS.bodyMaxBytes : LIMITS.descriptionMaxBytes);
      const email = { message_id: mail.messageId, full_body: trimmed === undefined ? null : fitBytes(text, 1024 * 1024) };
      const ownOrSender = (a: MailAddress) => !own.has(splitAddress(a.address).base) && a.address !== sender.address;
      const cc = [...new Set([...mail.to, ...mail.cc].filter(ownOrSender).map((a) => a.address))].slice(0, LIMITS.ccMax);
      const customer = { email: sender.address, name: sender.name ? fitChars(sender.name, 200) : null };

      const row = (outcome: InboundOutcome, ticket: string, message: string | null) => ({
        id,
        brand_id: brandId,
        sender: sender.address,
        rfc_message_id: mail.messageId,
        outcome,
        reason: null,
        ticket_id: ticket,
        message_id: message,
        raw_storage_key: null,
        size: raw.length,
        received_at: at,
      });

      if (ticketId) {
        let result: InboundResult | undefined;
        // The message's ticket: the one the mail answered, or the one that ticket was merged into.
        const onWrite: MessageWriteHook = async (trx, message) => {
          await store.insertInboundEmail(trx, row('message_added', message.ticket_id, message.id));
          result = { id, outcome: 'message_added', reason: null, brand_id: brandId, ticket_id: message.ticket_id, message_id: message.id };
        };
        await tickets.addMessage(principal, ticketId, { author_type: 'customer', body, cc, author: customer, attachments: attachmentIds, email }, onWrite);
        return result!;
      }
      let result: InboundResult | undefined;
      const onWrite: TicketWriteHook = async (trx, created) => {
        const first = (await ticketStore.listMessages(trx, created.id))[0];
        await store.insertInboundEmail(trx, row('ticket_created', created.id, first?.id ?? null));
        result = { id, outcome: 'ticket_created', reason: null, brand_id: brandId, ticket_id: created.id, message_id: first?.id ?? null };
      };
      await tickets.create(
        principal,
        {
          brand_id: brandId,
          subject: fitChars(mail.subject, LIMITS.subjectMax) || '(no subject)',
          description: body,
          customer,
          origin: 'email',
          first_message: { cc, attachments: attachmentIds, email },
        },
        onWrite,
      );
      return result!;
    },
  };
}

export type InboundMail = ReturnType<typeof createInboundMail>;
