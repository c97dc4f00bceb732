import type { ParsedEmail } from './parse.js';

/** Why a received mail is machine-made and must never open, reopen or answer a ticket. */
export type NoiseKind = 'bounce' | 'auto-reply' | 'bulk';

/**
 * Classifies a received mail as a bounce (a DSN, or from mailer-daemon/postmaster, or with a null
 * return path), an auto-reply (`Auto-Submitted` other than `no`, `X-Autoreply`, `X-Autorespond`)
 * or bulk mail (`Precedence: bulk|junk|list`); undefined for mail a person wrote.
 * `envelopeFrom` is the SMTP MAIL FROM ('' for the null path `<>`), when the mail came by SMTP.
 */
export function classifyNoise(mail: ParsedEmail, envelopeFrom?: string | null): NoiseKind | undefined {
  const contentType = mail.contentType.toLowerCase();
  if (contentType.startsWith('multipart/report') && /report-type\s*=\s*"?delivery-status/i.test(mail.header('content-type') ?? contentType)) return 'bounce';
  const sender = mail.from?.address ?? '';
  if (/^(mailer-daemon|postmaster)@/i.test(sender)) return 'bounce';
  const returnPath = mail.header('return-path');
  if (envelopeFrom === '' || (returnPath !== undefined && /^\s*<?\s*>?\s*$/.test(returnPath))) return 'bounce';
  if (contentType.startsWith('multipart/report')) return 'auto-reply';
  const autoSubmitted = mail.header('auto-submitted');
  if (autoSubmitted !== undefined && autoSubmitted.trim().toLowerCase() !== 'no') return 'auto-reply';
  if (mail.header('x-autoreply') !== undefined || mail.header('x-autorespond') !== undefined) return 'auto-reply';
  if (/^\s*(bulk|junk|list)\s*$/i.test(mail.header('precedence') ?? '')) return 'bulk';
  return undefined;
}

/**
 * The Message-IDs a bounce talks about: those in its returned headers (`Message-ID:` lines after
 * the bounce's own header block). Only ids we sent are ever acted on.
 */
export function bouncedMessageIds(raw: Buffer): string[] {
  const text = raw.toString('latin1');
  const bodyStart = text.search(/\r?\n\r?\n/);
  const body = bodyStart < 0 ? '' : text.slice(bodyStart);
  return [
    ...new Set(
      [...body.matchAll(/^(?:Message-ID|In-Reply-To|References):\s*((?:<[^<>\s]+>\s*)+)/gim)].flatMap((m) =>
        [...m[1]!.matchAll(/<([^<>\s]+)>/g)].map((x) => x[1]!),
      ),
    ),
  ];
}

/** The reason a bounce gives (its first Diagnostic-Code, else Status), for `delivery.last_error`. */
export function bounceReason(raw: Buffer): string {
  const text = raw.toString('latin1');
  const diagnostic = /^Diagnostic-Code:\s*(.+(?:\r?\n[ \t].+)*)/im.exec(text)?.[1];
  const status = /^Status:\s*(\S+)/im.exec(text)?.[1];
  const reason = (diagnostic ?? (status ? `status ${status}` : 'the message bounced')).replace(/\s+/g, ' ').trim();
  return `bounced: ${reason}`.slice(0, 500);
}
