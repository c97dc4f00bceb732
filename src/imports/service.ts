import type { Db } from '../db/schema.js';
import type { Actor, Principal } from '../auth/scopes.js';
import type { BrandService } from '../brands/service.js';
import { AppError } from '../http/problem.js';
import type { Clock } from '../shared/clock.js';
import { toTimestamp } from '../shared/clock.js';
import type { TicketService } from '../tickets/service.js';
import { freshdeskUser, mapFreshdeskTicket } from './formats/freshdesk.js';
import { mapJsonlTicket } from './formats/jsonl.js';
import { mapZendeskTicket, zendeskUser } from './formats/zendesk.js';
import type { ImportSource, MappedRecord, MappingContext, SourceUser } from './model.js';
import { countRecords, readRecords, readShape } from './reader.js';
import * as store from './store.js';

export { IMPORT_SOURCES, type ImportSource } from './model.js';

export interface ImportOptions {
  source: ImportSource;
  file: string;
  /** Zendesk's users export, or Freshdesk contacts and agents: who requested, was assigned, wrote. */
  usersFile?: string | undefined;
  /** Every ticket into this existing brand, instead of one brand per source brand. */
  brandId?: string | undefined;
  /**
   * Record the events a live create and its replies would (ticket.created, then ticket.message_created
   * per later message; src/tickets/historic.ts says exactly which), so webhooks fire. Off: history is not news.
   */
  emitEvents?: boolean | undefined;
  /** Tickets per transaction (default 200). */
  batchSize?: number | undefined;
  onProgress?: ((done: number, total: number) => void) | undefined;
}

export interface SkippedRecord {
  /** Line number (JSON Lines) or index in the array. */
  position: number;
  external_id: string | null;
  reason: string;
}

export interface ImportSummary {
  source: ImportSource;
  records: number;
  imported: number;
  /** Recorded as imported by an earlier run (or earlier in this file): left alone. */
  already_imported: number;
  skipped: number;
  skipped_by_reason: Record<string, number>;
  /** The first skipped records, to look at. */
  skipped_examples: SkippedRecord[];
  /** Parts of imported tickets left out (attachments, customers' comments made private, over-long tags, custom fields over the metadata limit), by reason. */
  dropped_by_reason: Record<string, number>;
  brands_created: string[];
  seconds: number;
}

/** The principal and actor an import writes as: every brand, audited as `nexus import`. */
export const importPrincipal: Principal = { tokenId: 'import', tokenName: 'nexus import', scopes: ['admin'], brandIds: null };
const importActor: Actor = { type: 'system', id: null, name: 'nexus import' };

const EXAMPLES = 20;
const mappers = { zendesk: mapZendeskTicket, freshdesk: mapFreshdeskTicket, jsonl: mapJsonlTicket } as const;

type TicketRecord = Extract<MappedRecord, { kind: 'ticket' }> & { position: number };

/**
 * Imports tickets from another helpdesk's export, or from ours, through the ticket service's bulk
 * path for history (`tickets.importMany`: routed, indexed for search, audited). Idempotent and
 * resumable: each batch commits its tickets together with a record of their source ids
 * (`import_records`), and a run skips the ids recorded already, so a run killed midway is
 * completed by running it again and a second run adds nothing.
 */
export function createImportService(deps: { db: Db; clock: Clock; brands: BrandService; tickets: TicketService }) {
  const { db, clock, brands, tickets } = deps;

  async function readUsers(file: string, source: ImportSource, into: Map<string, SourceUser>): Promise<void> {
    const toUser = source === 'freshdesk' ? freshdeskUser : zendeskUser;
    const shape = await readShape(file, 'users');
    for await (const r of readRecords(file, shape)) {
      if (!('value' in r)) continue;
      const user = toUser(r.value);
      if (user) into.set(user[0], user[1]);
    }
  }

  async function brandExists(id: string): Promise<boolean> {
    try {
      await brands.get(null, id);
      return true;
    } catch (err) {
      if (err instanceof AppError && err.code === 'not_found') return false;
      throw err;
    }
  }

  return {
    async run(options: ImportOptions): Promise<ImportSummary> {
      const started = performance.now();
      const { source, file } = options;
      const batchSize = Math.max(1, Math.min(options.batchSize !== undefined && Number.isInteger(options.batchSize) ? options.batchSize : 200, 2000));
      if (options.brandId !== undefined && !(await brandExists(options.brandId))) {
        throw new AppError('not_found', `Brand ${options.brandId} does not exist; create it first (nexus brands create) or leave --brand out`);
      }
      const users = new Map<string, SourceUser>();
      if (options.usersFile) await readUsers(options.usersFile, source, users);
      const shape = await readShape(file, 'tickets');
      if (shape.kind === 'document' && shape.document && Array.isArray(shape.document.users)) {
        // An API page with include=users: its sideloaded people.
        const toUser = source === 'freshdesk' ? freshdeskUser : zendeskUser;
        for (const u of shape.document.users) {
          const user = toUser(u);
          if (user) users.set(user[0], user[1]);
        }
      }
      const total = await countRecords(file, shape);
      const ctx: MappingContext = { users, brandId: options.brandId };
      const map = mappers[source];

      const summary: ImportSummary = {
        source,
        records: 0,
        imported: 0,
        already_imported: 0,
        skipped: 0,
        skipped_by_reason: {},
        skipped_examples: [],
        dropped_by_reason: {},
        brands_created: [],
        seconds: 0,
      };
      const skip = (position: number, externalId: string | null, reason: string) => {
        summary.skipped++;
        summary.skipped_by_reason[reason] = (summary.skipped_by_reason[reason] ?? 0) + 1;
        if (summary.skipped_examples.length < EXAMPLES) summary.skipped_examples.push({ position, external_id: externalId, reason });
      };
      const knownBrands = new Set<string>();

      async function ensureBrand(brand: { id: string; name: string }): Promise<void> {
        if (knownBrands.has(brand.id)) return;
        if (!(await brandExists(brand.id))) {
          try {
            await brands.create({ id: brand.id, name: brand.name });
            summary.brands_created.push(brand.id);
          } catch (err) {
            // Another import made it meanwhile: it exists, which is all we need.
            if (!(err instanceof AppError && err.code === 'conflict')) throw err;
          }
        }
        knownBrands.add(brand.id);
      }

      /** Writes one batch's tickets with their import records; a ticket the database refuses is retried alone and skipped. */
      async function write(batch: TicketRecord[]): Promise<void> {
        const at = toTimestamp(clock.now());
        const byTicketId = new Map(batch.map((r) => [r.ticket.id, r]));
        try {
          const result = await tickets.importMany(
            importPrincipal,
            batch.map((r) => r.ticket),
            {
              emitEvents: options.emitEvents === true,
              source,
              actor: importActor,
              within: (trx, written) =>
                store.insertImportRecords(
                  trx,
                  written.map((t) => ({ source, external_id: byTicketId.get(t.id)!.externalId, ticket_id: t.id, imported_at: at })),
                ),
            },
          );
          for (const t of result.written) {
            summary.imported++;
            for (const reason of byTicketId.get(t.id)!.dropped) summary.dropped_by_reason[reason] = (summary.dropped_by_reason[reason] ?? 0) + 1;
          }
          for (const { index, reason } of result.rejected) skip(batch[index]!.position, batch[index]!.externalId, reason);
          for (const index of result.existing) skip(batch[index]!.position, batch[index]!.externalId, 'a ticket with this id exists already in this database');
        } catch (err) {
          if (batch.length === 1) {
            skip(batch[0]!.position, batch[0]!.externalId, `the database refused it: ${(err as Error).message}`);
            return;
          }
          for (const one of batch) await write([one]);
        }
      }

      let pending: TicketRecord[] = [];
      let done = 0;
      const flush = async () => {
        const batch = pending;
        pending = [];
        if (batch.length === 0) return;
        const imported = await store.listImportedIds(
          db,
          source,
          batch.map((r) => r.externalId),
        );
        const inBatch = new Set<string>();
        const fresh = batch.filter((r) => {
          if (imported.has(r.externalId)) {
            summary.already_imported++;
            return false;
          }
          if (inBatch.has(r.externalId)) {
            skip(r.position, r.externalId, 'the same ticket appears earlier in the file');
            return false;
          }
          inBatch.add(r.externalId);
          return true;
        });
        for (const r of fresh) await ensureBrand(r.brand);
        await write(fresh);
        done += batch.length;
        options.onProgress?.(done, total);
      };

      options.onProgress?.(0, total);
      for await (const record of readRecords(file, shape)) {
        summary.records++;
        if (!('value' in record)) {
          skip(record.position, null, record.error.startsWith('not JSON') ? 'not JSON' : record.error);
          done++;
          continue;
        }
        const mapped = map(record.value, ctx);
        if (mapped.kind === 'skip') {
          skip(record.position, mapped.externalId, mapped.reason);
          done++;
          continue;
        }
        pending.push({ ...mapped, position: record.position });
        if (pending.length >= batchSize) await flush();
      }
      await flush();
      options.onProgress?.(total, total);
      summary.seconds = Math.round((performance.now() - started) / 100) / 10;
      return summary;
    },

    /** How many tickets of this source are recorded as imported. */
    importedCount: (source: ImportSource): Promise<number> => store.countImportRecords(db, source),
  };
}

export type ImportService = ReturnType<typeof createImportService>;

/** For the CLI: whether a value is one of the sources. */
export const isImportSource = (v: string): v is ImportSource => v === 'zendesk' || v === 'freshdesk' || v === 'jsonl';
