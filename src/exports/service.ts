import type { Db } from '../db/schema.js';
import { type Principal, canSeeBrand } from '../auth/scopes.js';
import { AppError } from '../http/problem.js';
import { parseInstant, toTimestamp } from '../shared/clock.js';
import { type MessageView, participantsOf, toAuditView, toMessageView, toTicketView } from '../tickets/model.js';
import { CSV_COLUMNS, csvLine, csvRowOf } from './csv.js';
import type { AttachmentReference, ExportedMessage, ExportedTicket } from './model.js';
import * as store from './store.js';

export type { AttachmentReference, ExportedMessage, ExportedTicket } from './model.js';

export interface ExportOptions {
  /** One brand only; a brand the principal may not see exports nothing. */
  brandId?: string | undefined;
  /** Only tickets updated at or after this instant: a date or an RFC 3339 date-time. */
  since?: string | undefined;
  /** Tickets read per round trip (default 500). */
  batchSize?: number | undefined;
}

/** A checked export: what it will read, ready to count and stream. */
export interface ExportPlan {
  filter: store.ExportFilter;
  batchSize: number;
}

/** SQLite allows 32,766 parameters per statement; PostgreSQL 65,535. */
const MAX_IDS_PER_QUERY = 5000;

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = out.get(k);
    if (list) list.push(row);
    else out.set(k, [row]);
  }
  return out;
}

/**
 * Exports of every ticket with its conversation, participants, audit trail and attachment
 * references, as jsonl or CSV. Streamed: tickets are read a page at a time in id order (a keyset,
 * so a page costs the same however far in) and the next page is read only when the consumer has
 * taken the last one's lines, so memory stays flat and a slow reader slows the export down
 * instead of filling a buffer.
 */
export function createExportService(deps: { db: Db }) {
  const { db } = deps;

  /** Checks the options against what `principal` may see (null: the CLI, every brand). */
  function plan(principal: Principal | null, options: ExportOptions): ExportPlan {
    let since: string | undefined;
    if (options.since !== undefined) {
      const at = parseInstant(options.since);
      if (!at)
        throw new AppError('invalid_query', 'since must be a date or an RFC 3339 date-time', {
          errors: [{ pointer: 'since', message: 'must be a date or an RFC 3339 date-time' }],
        });
      since = toTimestamp(at);
    }
    let brandIds = principal?.brandIds ?? null;
    if (options.brandId !== undefined) brandIds = principal === null || canSeeBrand(principal, options.brandId) ? [options.brandId] : [];
    const size = options.batchSize !== undefined && Number.isInteger(options.batchSize) ? options.batchSize : 500;
    return { filter: { brandIds, since }, batchSize: Math.max(1, Math.min(size, 5000)) };
  }

  /** The tickets of one page with everything they own, in one query per table. */
  async function expand(rows: Awaited<ReturnType<typeof store.listTicketPage>>, brandNames: Map<string, string>): Promise<ExportedTicket[]> {
    const ids = rows.map((r) => r.id);
    const [messageRows, auditRows] = await Promise.all([store.listMessagesOf(db, ids), store.listAuditEntriesOf(db, ids)]);
    const attachmentRows = (
      await Promise.all(
        chunks(
          messageRows.map((m) => m.id),
          MAX_IDS_PER_QUERY,
        ).map((c) => store.listAttachmentsOf(db, c)),
      )
    ).flat();
    const attachmentsByMessage = groupBy(attachmentRows, (a) => a.message_id ?? '');
    const messagesByTicket = groupBy(messageRows, (m) => m.ticket_id);
    const auditByTicket = groupBy(auditRows, (a) => a.ticket_id);
    return rows.map((row) => {
      const messages = (messagesByTicket.get(row.id) ?? []).map((m) => {
        const refs: AttachmentReference[] = (attachmentsByMessage.get(m.id) ?? []).map((a) => ({
          id: a.id,
          file_name: a.file_name,
          content_type: a.content_type,
          size: a.size === null ? null : Number(a.size),
          sha256: a.sha256,
        }));
        return toMessageView(m, refs) as ExportedMessage;
      });
      return {
        ...toTicketView(row),
        brand_name: brandNames.get(row.brand_id) ?? null,
        messages,
        participants: participantsOf(row, messages as MessageView[]),
        audit_trail: (auditByTicket.get(row.id) ?? []).map(toAuditView),
      };
    });
  }

  /**
   * Every ticket of the plan, a page at a time; the next page is read when this one has been taken.
   * Several brands are walked one after another, each by its (brand_id, id) index: one keyset over
   * `brand_id IN (…) ORDER BY id` would make the database sort every remaining ticket of those
   * brands for each page.
   */
  async function* tickets(p: ExportPlan): AsyncGenerator<ExportedTicket> {
    const brandNames = new Map((await store.listBrandNames(db)).map((b) => [b.id, b.name]));
    const walks = p.filter.brandIds === null ? [null] : [...p.filter.brandIds].sort().map((b) => [b]);
    for (const brandIds of walks) {
      let afterId: string | undefined;
      for (;;) {
        const rows = await store.listTicketPage(db, { ...p.filter, brandIds, afterId, limit: p.batchSize });
        if (rows.length === 0) break;
        afterId = rows.at(-1)!.id;
        yield* await expand(rows, brandNames);
        if (rows.length < p.batchSize) break;
      }
    }
  }

  return {
    plan,

    /** How many tickets the plan covers (for a progress bar): one count query. */
    count: (p: ExportPlan): Promise<number> => store.countTickets(db, p.filter),

    tickets,

    /** One JSON object per line, `\n`-terminated: {@link ExportedTicket}. */
    async *jsonl(p: ExportPlan, onTicket?: () => void): AsyncGenerator<string> {
      for await (const t of tickets(p)) {
        yield `${JSON.stringify(t)}\n`;
        onTicket?.();
      }
    },

    /** RFC 4180 CSV, a header line then one row per ticket (docs/export-import.md names the columns). */
    async *csv(p: ExportPlan, onTicket?: () => void): AsyncGenerator<string> {
      yield csvLine(CSV_COLUMNS);
      for await (const t of tickets(p)) {
        yield csvLine(csvRowOf(t));
        onTicket?.();
      }
    },
  };
}

export type ExportService = ReturnType<typeof createExportService>;
