import { type AddressObject, type HeaderValue, simpleParser } from 'mailparser';
import { htmlToText } from '../shared/html-text.js';

/** A mailbox as a header names it. */
export interface MailAddress {
  address: string;
  name: string | null;
}

export interface ReceivedAttachment {
  file_name: string;
  content_type: string;
  content: Buffer;
  /** Shown inside the HTML body (an inline image, `Content-ID`), rather than attached. */
  inline: boolean;
}

/** What the rest of the mail code reads from a received message. */
export interface ParsedEmail {
  from: MailAddress | null;
  to: MailAddress[];
  cc: MailAddress[];
  subject: string;
  /** The readable text: the text/plain part, or the HTML part converted when there is no text part. */
  text: string;
  /** The text came from HTML (the mail had no text/plain part). */
  fromHtml: boolean;
  /** Without angle brackets; null when absent. */
  messageId: string | null;
  /** In-Reply-To then References, without angle brackets, nearest first. */
  references: string[];
  attachments: ReceivedAttachment[];
  /** Lower-cased header name → first value as text. */
  header(name: string): string | undefined;
  contentType: string;
}

/** `<a@b>` → `a@b`; ids are compared as written otherwise (RFC 5322 leaves their case alone). */
export const bareMessageId = (id: string): string => id.trim().replace(/^<|>$/g, '').trim();

/** Every `<…>` id in a References or In-Reply-To value. */
export function messageIdsIn(value: string | string[] | undefined): string[] {
  const text = Array.isArray(value) ? value.join(' ') : (value ?? '');
  const ids = [...text.matchAll(/<([^<>\s]+)>/g)].map((m) => m[1]!);
  if (ids.length === 0 && text.trim() && !/\s/.test(text.trim())) ids.push(bareMessageId(text));
  return ids;
}

function addresses(value: AddressObject | AddressObject[] | undefined): MailAddress[] {
  const out: MailAddress[] = [];
  const visit = (list: { address?: string | undefined; name: string; group?: unknown[] | undefined }[]) => {
    for (const entry of list) {
      if (entry.group) visit(entry.group as typeof list);
      else if (entry.address?.includes('@')) out.push({ address: entry.address.trim().toLowerCase(), name: entry.name?.trim() || null });
    }
  };
  for (const obj of [value ?? []].flat()) visit(obj.value);
  return out;
}

function headerText(value: HeaderValue | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return headerText(value[0] as HeaderValue);
  if (typeof value === 'object' && 'value' in value) {
    const v = (value as { value: unknown }).value;
    return typeof v === 'string' ? v : (value as { text?: string }).text;
  }
  return undefined;
}

// C0 controls other than tab and line feed, DEL, and lone surrogates: what a mis-declared encoding
// decodes to, and nothing a person wrote.
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Text as stored: line ends normalised, unprintable characters (a broken transfer encoding's debris) removed. */
const cleanText = (text: string): string => text.replace(/\r\n?/g, '\n').replace(UNPRINTABLE, '');

/** A header's value as written (unfolded), parameters included: `multipart/report; report-type=…`. */
function rawHeader(lines: readonly { key: string; line: string }[], name: string): string | undefined {
  const line = lines.find((l) => l.key === name.toLowerCase())?.line;
  if (line === undefined) return undefined;
  return line
    .slice(line.indexOf(':') + 1)
    .replace(/\r?\n[ \t]+/g, ' ')
    .trim();
}

// A header name and a colon: the test for "this looks like a mail at all".
const HEADER_LINE = /^[\x21-\x39\x3b-\x7e]+:/;

/**
 * Parses a raw RFC 5322 message with mailparser. Never throws: what mailparser cannot make sense of
 * (broken MIME, unknown charsets, 8-bit headers) comes out as well as it can, with the raw bytes
 * as the text at worst.
 */
export async function parseEmail(raw: Buffer): Promise<ParsedEmail> {
  let parsed: Awaited<ReturnType<typeof simpleParser>> | undefined;
  try {
    parsed = await simpleParser(raw, { skipTextToHtml: true, skipImageLinks: true, skipHtmlToText: true });
  } catch {
    parsed = undefined;
  }
  if (!parsed) {
    const text = raw.toString('utf8');
    return {
      from: null,
      to: [],
      cc: [],
      subject: '',
      text: text.slice(text.search(/\r?\n\r?\n/) + 1).trim(),
      fromHtml: false,
      messageId: null,
      references: [],
      attachments: [],
      header: () => undefined,
      contentType: 'text/plain',
    };
  }
  const mail = parsed;
  const html = typeof mail.html === 'string' ? mail.html : '';
  const plain = (mail.text ?? '').trim();
  const fromHtml = !plain && !!html;
  const text = cleanText(fromHtml ? htmlToText(html) : plain);
  const references = [...messageIdsIn(mail.inReplyTo), ...messageIdsIn(mail.references).reverse()];
  const attachments: ReceivedAttachment[] = mail.attachments.map((a, i) => ({
    file_name: a.filename?.trim() || `attachment-${i + 1}${extensionOf(a.contentType)}`,
    content_type: a.contentType || 'application/octet-stream',
    content: a.content,
    inline: a.contentDisposition === 'inline' || !!a.related,
  }));
  const firstLine = raw.subarray(0, 200).toString('latin1');
  return {
    from: addresses(mail.from)[0] ?? null,
    to: addresses(mail.to),
    cc: addresses(mail.cc),
    subject: cleanText(mail.subject ?? '')
      .replace(/\s+/g, ' ')
      .trim(),
    text,
    fromHtml,
    messageId: mail.messageId ? bareMessageId(mail.messageId) : null,
    references: [...new Set(references)],
    attachments,
    header: (name) => rawHeader(mail.headerLines, name) ?? headerText(mail.headers.get(name.toLowerCase())),
    contentType: HEADER_LINE.test(firstLine) ? (headerText(mail.headers.get('content-type')) ?? 'text/plain') : 'text/plain',
  };
}

const EXTENSIONS: Record<string, string> = {
  'image/png': '.png',
  'image/jpeg': '.jpg',
  'image/gif': '.gif',
  'application/pdf': '.pdf',
  'text/plain': '.txt',
  'text/calendar': '.ics',
  'message/rfc822': '.eml',
  'message/delivery-status': '.txt',
};

const extensionOf = (contentType: string): string => EXTENSIONS[contentType.toLowerCase()] ?? '.bin';
