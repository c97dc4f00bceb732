import type { ExportedTicket } from './model.js';

/** The CSV export's columns, in order: one row per ticket (docs/export-import.md says what each holds). */
export const CSV_COLUMNS = [
  'id',
  'brand_id',
  'brand_name',
  'subject',
  'status',
  'priority',
  'origin',
  'customer_email',
  'customer_name',
  'assigned_to',
  'tags',
  'created_at',
  'updated_at',
  'first_response_at',
  'snoozed_until',
  'message_count',
  'last_message_at',
  'attachment_count',
  'description',
  'metadata',
] as const;

export function csvRowOf(t: ExportedTicket): string[] {
  const lastMessage = t.messages.reduce<string | null>((last, m) => (last === null || m.created_at > last ? m.created_at : last), null);
  const cells: Record<(typeof CSV_COLUMNS)[number], string> = {
    id: t.id,
    brand_id: t.brand_id,
    brand_name: t.brand_name ?? '',
    subject: t.subject,
    status: t.status,
    priority: t.priority,
    origin: t.origin,
    customer_email: t.customer.email,
    customer_name: t.customer.name ?? '',
    assigned_to: t.assigned_to ?? '',
    tags: t.tags.join(';'),
    created_at: t.created_at,
    updated_at: t.updated_at,
    first_response_at: t.first_response_at ?? '',
    snoozed_until: t.snoozed_until ?? '',
    message_count: String(t.messages.length),
    last_message_at: lastMessage ?? '',
    attachment_count: String(t.messages.reduce((n, m) => n + m.attachments.length, 0)),
    description: t.description,
    metadata: JSON.stringify(t.metadata),
  };
  return CSV_COLUMNS.map((c) => cells[c]);
}

/**
 * A spreadsheet runs a cell that starts with = + - @ (or a tab or carriage return before one) as a
 * formula: text a customer typed must not be. Such a cell gets a leading apostrophe (OWASP's advice
 * on CSV injection); jsonl is the lossless format.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/** One RFC 4180 record, CRLF-terminated: every field quoted when it holds a quote, comma or line break. */
export function csvLine(fields: readonly string[]): string {
  return `${fields
    .map((f) => {
      const safe = FORMULA_START.test(f) ? `'${f}` : f;
      return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
    })
    .join(',')}\r\n`;
}
