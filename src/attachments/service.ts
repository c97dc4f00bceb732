import { Readable } from 'node:stream';
import type { Config } from '../config.js';
import type { Dialect } from '../db/open.js';
import type { AttachmentRow, Db, DbOrTx } from '../db/schema.js';
import { type Principal, canSeeBrand } from '../auth/scopes.js';
import { requireVisibleBrand } from '../brands/visibility.js';
import { AppError, type FieldError, notFound, validationError } from '../http/problem.js';
import { type Clock, toTimestamp } from '../shared/clock.js';
import { newId } from '../shared/ids.js';
import type { SecretBox } from '../shared/secret-box.js';
import type { MessageAttachments } from '../tickets/service.js';
import { type BlobStore, BlobSizeMismatchError, BlobTooLargeError, type ByteRange, type StoredBlob } from './blob-store.js';
import { DiskBlobStore } from './disk-blob-store.js';
import { S3BlobStore } from './s3-blob-store.js';
import { LONE_SURROGATE } from './download-headers.js';
import { type TokenCheck, type UrlPurpose, parseToken, signToken, verifyToken } from './signing.js';
import { createSigningKeyRing } from './signing-keys.js';
import * as store from './store.js';

export const UPLOAD_URL_TTL_MS = 15 * 60_000;
export const DOWNLOAD_URL_TTL_MS = 15 * 60_000;
/** Uploads not linked to a message within this time are swept away. */
export const UNLINKED_TTL_MS = 24 * 60 * 60_000;
/**
 * How long an upload attempt holds its attachment without news from the process running it. That
 * process extends the lease every UPLOAD_LEASE_RENEW_MS; if it dies mid-upload, the same URL can
 * be used again once the lease lapses (a PUT before that is a 409).
 */
export const UPLOAD_LEASE_MS = 30_000;
export const UPLOAD_LEASE_RENEW_MS = 10_000;
/**
 * A partial upload file (`.part`) not written to or touched for this long belongs to no running
 * upload: a running one touches its file every 10 s, whatever the client does. The margin is the
 * upload URL's lifetime, so that processes sharing a data dir with skewed clocks never take each
 * other's live files.
 */
export const ABANDONED_PART_AGE_MS = UPLOAD_URL_TTL_MS;

/** How an attachment appears on a message: the `MessageAttachment` schema. */
export interface AttachmentView {
  id: string;
  file_name: string;
  content_type: string;
  size: number | null;
  sha256: string | null;
  /** Signed, valid for 15 minutes, needs no bearer token; null until the bytes are uploaded. */
  download_url: string | null;
}

export interface AttachmentDetail extends AttachmentView {
  status: 'pending' | 'uploading' | 'ready';
  brand_id: string | null;
  ticket_id: string | null;
  message_id: string | null;
  created_at: string;
}

export interface CreatedAttachment {
  id: string;
  file_name: string;
  content_type: string;
  status: 'pending';
  upload_url: string;
  upload_expires_at: string;
}

export interface CreateAttachmentInput {
  file_name: string;
  content_type: string;
  size?: number | undefined;
  brand_id?: string | undefined;
}

export interface UploadInput {
  /** The request's Content-Type header. */
  contentType: string | undefined;
  /** The request's Content-Length, when it sent one. */
  contentLength: number | undefined;
  body: Readable;
  /** False when the client went away before the body ended (a truncated upload). */
  bodyComplete?: () => boolean;
}

export interface UploadedAttachment {
  id: string;
  file_name: string;
  content_type: string;
  status: 'ready';
  size: number;
  sha256: string;
}

export interface Download {
  attachment: AttachmentView & { size: number; sha256: string };
  /** The bytes, or one inclusive range of them. */
  open(range?: ByteRange): Promise<Readable>;
}

export interface AttachmentServiceDeps {
  db: Db;
  dialect: Dialect;
  clock: Clock;
  config: Pick<Config, 'publicUrl' | 'attachmentMaxBytes'>;
  blobs: BlobStore;
  /** Seals the URL-signing keys in the database (the deployment's secret box). */
  secretBox: SecretBox;
}

/**
 * The blob store NEXUS_BLOB_URL names: files under a folder (by default `<NEXUS_DATA_DIR>/attachments`)
 * or objects in an S3-compatible bucket.
 */
export function defaultBlobStore(config: Pick<Config, 'blobStore' | 'attachmentMaxBytes' | 'http'>): BlobStore {
  const where = config.blobStore;
  if (where.kind === 'disk') return new DiskBlobStore(where.root);
  return new S3BlobStore({
    ...where,
    // The body watchdog (src/http/timeouts.ts) ends an upload slower than the minimum rate over any
    // idle-timeout window, so none outlives the size limit at that rate plus one window.
    longestUploadMs: Math.ceil(config.attachmentMaxBytes / config.http.uploadMinBytesPerSecond) * 1000 + config.http.idleTimeoutMs,
  });
}

// Control characters and line separators in a file name are refused outright: no client needs
// them, and refusing keeps them out of every place the name is shown.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is what this pattern is for
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Media types compare case- and whitespace-insensitively: `Text/Plain; charset=UTF-8` equals `text/plain;charset=utf-8`. */
const sameMediaType = (a: string, b: string): boolean => a.toLowerCase().replace(/\s+/g, '') === b.toLowerCase().replace(/\s+/g, '');

/** An id quoted in an error message, cut short so a hostile value cannot bloat the response. */
const quote = (id: string): string => (id.length > 40 ? `${JSON.stringify(id.slice(0, 40))}…` : id);

const numberOrNull = (value: number | string | null): number | null => (value === null ? null : Number(value));

function isVisible(principal: Principal, row: Pick<AttachmentRow, 'brand_id'>): boolean {
  // An attachment without a brand was made by an all-brands token; only such a token sees it.
  return row.brand_id === null ? principal.brandIds === null : canSeeBrand(principal, row.brand_id);
}

/**
 * Attachments: an upload URL is requested with the metadata, the bytes are PUT to it (streamed to
 * the blob store, hashed, bounded), and the attachment is linked to one message of one ticket.
 */
export function createAttachmentService(deps: AttachmentServiceDeps) {
  const { db, clock, config, blobs } = deps;
  const keys = createSigningKeyRing({
    db,
    dialect: deps.dialect,
    clock,
    box: deps.secretBox,
    maxUrlLifetimeMs: Math.max(UPLOAD_URL_TTL_MS, DOWNLOAD_URL_TTL_MS),
  });

  async function downloadUrl(dbx: DbOrTx, row: AttachmentRow): Promise<string | null> {
    if (row.status !== 'ready' || !row.storage_key) return null;
    const expiresAt = new Date(clock.now().getTime() + DOWNLOAD_URL_TTL_MS);
    if (blobs.presignDownload) {
      return blobs.presignDownload(row.storage_key, { expiresAt, fileName: row.file_name, contentType: row.content_type });
    }
    return `${config.publicUrl}/v1/downloads/${signToken(await keys.current(dbx), 'download', row.id, expiresAt)}`;
  }

  async function viewOf(dbx: DbOrTx, row: AttachmentRow): Promise<AttachmentView> {
    return {
      id: row.id,
      file_name: row.file_name,
      content_type: row.content_type,
      size: numberOrNull(row.size),
      sha256: row.sha256,
      download_url: await downloadUrl(dbx, row),
    };
  }

  /** Checks a URL token against the key it names (current or previous). */
  async function checkToken(purpose: UrlPurpose, token: string): Promise<TokenCheck> {
    const parsed = parseToken(token);
    if (!parsed) return { ok: false, reason: 'invalid' };
    return verifyToken(await keys.find(db, parsed.kid), purpose, parsed, clock.now());
  }

  /**
   * Removes partial upload files that no running upload owns: untouched for ABANDONED_PART_AGE_MS
   * (what a process killed mid-upload leaves). Compared with real time, not the injected clock:
   * the file system's clock stamped them. Returns how many went.
   */
  async function removeAbandonedParts(): Promise<number> {
    return (await blobs.removeAbandonedParts?.(new Date(Date.now() - ABANDONED_PART_AGE_MS))) ?? 0;
  }

  /** Whether a PUT may start: the row waits for its bytes, or the attempt holding it has stopped renewing its lease. */
  function claimable(row: AttachmentRow, now: Date): boolean {
    if (row.status === 'pending') return true;
    return row.status === 'uploading' && (row.upload_lease_expires_at === null || row.upload_lease_expires_at <= toTimestamp(now));
  }

  /** Why an upload cannot start, for a row that is not (or no longer) claimable. */
  function notPending(row: AttachmentRow | undefined): AppError {
    if (row?.status === 'uploading') {
      const lease = row.upload_lease_expires_at ? Date.parse(row.upload_lease_expires_at) : clock.now().getTime();
      const wait = Math.max(1, Math.ceil((lease - clock.now().getTime()) / 1000));
      return new AppError('conflict', 'An upload to this URL is already in progress; if it was cut off, try again when Retry-After says', {
        headers: { 'Retry-After': String(wait) },
      });
    }
    if (row?.status === 'ready')
      return new AppError('upload_url_expired', 'This upload URL has already been used; request a new one with POST /v1/attachments');
    return new AppError('upload_url_expired', 'This upload URL is no longer valid; request a new one with POST /v1/attachments');
  }

  /**
   * Why each id cannot be linked to a new message of the ticket `to` (`ticketId` absent: a ticket not
   * written yet), read from the rows as they are in `trx`; empty when all can.
   */
  async function linkErrors(
    trx: DbOrTx,
    principal: Principal,
    to: { brandId: string; ticketId?: string | undefined },
    attachmentIds: string[],
  ): Promise<FieldError[]> {
    const errors: FieldError[] = [];
    const seen = new Set<string>();
    for (const [i, id] of attachmentIds.entries()) {
      const pointer = `/attachments/${i}`;
      if (seen.has(id)) {
        errors.push({ pointer, message: `attachment ${quote(id)} is listed more than once` });
        continue;
      }
      seen.add(id);
      const row = await store.findAttachment(trx, id);
      // Linking needs exactly what reading needs (an attachment the token could GET), and the
      // ticket's brand. Anything else reads like a missing id, whatever its status: telling
      // "not uploaded yet" apart would confirm that a hidden id exists.
      if (!row || !isVisible(principal, row) || (row.brand_id !== null && row.brand_id !== to.brandId)) {
        errors.push({ pointer, message: `attachment ${quote(id)} does not exist` });
      } else if (row.message_id !== null || row.status !== 'ready') {
        errors.push({ pointer, message: notLinkable(row, to.ticketId) });
      }
    }
    return errors;
  }

  /** Why a visible attachment of the right brand cannot be linked: already linked, or not uploaded. */
  function notLinkable(row: AttachmentRow, ticketId: string | undefined): string {
    if (row.message_id === null) return `attachment ${row.id} is not uploaded yet (status ${row.status})`;
    return `attachment ${row.id} is already linked to ${row.ticket_id === ticketId ? 'another message of this ticket' : 'another ticket'}`;
  }

  const failed = (errors: FieldError[]) => new AppError('validation_failed', errors.map((e) => `${e.pointer} ${e.message}`).join('; '), { errors });

  const forMessages: MessageAttachments = {
    async check(trx, { principal, brandId, ticketId, attachmentIds }) {
      if (!attachmentIds.length) return;
      const errors = await linkErrors(trx, principal, { brandId, ticketId }, attachmentIds);
      if (errors.length) throw failed(errors);
    },

    async link(trx, { principal, ticket, messageId, attachmentIds, at }) {
      await this.check(trx, { principal, brandId: ticket.brand_id, ticketId: ticket.id, attachmentIds });
      const errors: FieldError[] = [];
      for (const [i, id] of attachmentIds.entries()) {
        if (await store.linkAttachment(trx, id, { brand_id: ticket.brand_id, ticket_id: ticket.id, message_id: messageId, linked_at: at })) continue;
        // A concurrent writer (PostgreSQL) changed the row since it was read: say why, from the row as it is now.
        const now = await store.findAttachment(trx, id);
        errors.push({ pointer: `/attachments/${i}`, message: now ? notLinkable(now, ticket.id) : `attachment ${quote(id)} does not exist` });
      }
      // Throwing rolls back the whole message transaction, links made above included.
      if (errors.length) throw failed(errors);
    },

    listFor: async (dbx, messageIds) => byMessage(dbx, await store.listForMessages(dbx, messageIds)),
    listForTicket: async (dbx, ticketId) => byMessage(dbx, await store.listForTicket(dbx, ticketId)),
  };

  /** Views of linked attachments, grouped by message, each list in the rows' order. */
  async function byMessage(dbx: DbOrTx, rows: AttachmentRow[]): Promise<Map<string, unknown[]>> {
    const out = new Map<string, unknown[]>();
    for (const row of rows) {
      const list = out.get(row.message_id!) ?? [];
      list.push(await viewOf(dbx, row));
      out.set(row.message_id!, list);
    }
    return out;
  }

  return {
    /** Links attachments to messages; the ticket service calls it inside the message transaction. */
    forMessages,

    /** Whether the blob store can take and serve blobs now (BlobStore.check): at start, and for readiness. */
    checkStorage: () => blobs.check(),

    /** The URL-signing keys: `prepare` at start, `rotate` and `list` for `nexus keys`. */
    signingKeys: { prepare: () => keys.prepare(), rotate: (options?: { force?: boolean }) => keys.rotate(options), list: () => keys.list() },

    /**
     * Registers an attachment and returns its one-shot upload URL (valid 15 minutes). The brand is
     * `brand_id`, else the token's only brand; a token of several (but not all) brands must name
     * one; an all-brands token may leave it out and the attachment takes the brand of the ticket
     * it is linked to.
     */
    async create(principal: Principal, input: CreateAttachmentInput): Promise<CreatedAttachment> {
      if (!input.file_name.trim()) throw validationError('/file_name', 'must not be blank');
      if (CONTROL.test(input.file_name)) throw validationError('/file_name', 'must not contain control characters or line breaks');
      if (new RegExp(LONE_SURROGATE.source).test(input.file_name)) throw validationError('/file_name', 'must be valid Unicode text');
      if (input.size !== undefined && input.size > config.attachmentMaxBytes) {
        throw validationError('/size', `must be at most ${config.attachmentMaxBytes} bytes`);
      }
      let brandId: string | null = null;
      if (input.brand_id !== undefined) {
        await requireVisibleBrand(db, principal, input.brand_id, '/brand_id', quote(input.brand_id));
        brandId = input.brand_id;
      } else if (principal.brandIds !== null) {
        if (principal.brandIds.length !== 1) throw validationError('/brand_id', 'is required: this token can see several brands');
        brandId = principal.brandIds[0]!;
      }
      const now = clock.now();
      const expiresAt = new Date(now.getTime() + UPLOAD_URL_TTL_MS);
      const id = newId('att', now.getTime());
      await store.insertAttachment(db, {
        id,
        brand_id: brandId,
        file_name: input.file_name,
        content_type: input.content_type,
        declared_size: input.size ?? null,
        status: 'pending',
        size: null,
        sha256: null,
        storage_key: null,
        upload_expires_at: toTimestamp(expiresAt),
        ticket_id: null,
        message_id: null,
        created_at: toTimestamp(now),
        uploaded_at: null,
        linked_at: null,
      });
      return {
        id,
        file_name: input.file_name,
        content_type: input.content_type,
        status: 'pending',
        upload_url: `${config.publicUrl}/v1/uploads/${signToken(await keys.current(db), 'upload', id, expiresAt)}`,
        upload_expires_at: toTimestamp(expiresAt),
      };
    },

    /**
     * Stores bytes the server received itself (a mail's attachments, the raw mail) as a ready
     * attachment of `brand_id`, not yet linked: link it to a message as an uploaded one. Same size
     * limit as uploads unless `maxBytes` says otherwise; control characters in the name become `_`.
     * Unlinked, it is swept after 24 hours like any upload.
     */
    async storeReceived(input: { brand_id: string; file_name: string; content_type: string; content: Buffer; maxBytes?: number }): Promise<string> {
      const maxBytes = input.maxBytes ?? config.attachmentMaxBytes;
      if (input.content.length > maxBytes) throw new AppError('payload_too_large', `The file is larger than the limit of ${maxBytes} bytes`);
      const fileName = (
        input.file_name.replace(new RegExp(CONTROL.source, 'g'), '_').replace(new RegExp(LONE_SURROGATE.source, 'g'), '_').trim() || 'attachment'
      ).slice(0, 255);
      // A media type is a token/token; anything else a sender wrote is served as bytes.
      const contentType = /^[\w.+-]+\/[\w.+-]+$/.test(input.content_type) ? input.content_type.toLowerCase() : 'application/octet-stream';
      const now = clock.now();
      const id = newId('att', now.getTime());
      const storageKey = newId('blob', now.getTime());
      const stored = await blobs.put(storageKey, Readable.from([input.content]), { maxBytes, expectedSize: input.content.length });
      const at = toTimestamp(now);
      try {
        await store.insertAttachment(db, {
          id,
          brand_id: input.brand_id,
          file_name: fileName,
          content_type: contentType,
          declared_size: input.content.length,
          status: 'ready',
          size: stored.size,
          sha256: stored.sha256,
          storage_key: storageKey,
          upload_expires_at: at,
          ticket_id: null,
          message_id: null,
          created_at: at,
          uploaded_at: at,
          linked_at: null,
        });
      } catch (err) {
        await blobs.delete(storageKey).catch(() => {});
        throw err;
      }
      return id;
    },

    /** Keeps bytes in the blob store without an attachment (a received mail nothing became of, for audit); returns its key. */
    async storeBlob(content: Buffer, maxBytes: number): Promise<string> {
      const key = newId('blob', clock.now().getTime());
      await blobs.put(key, Readable.from([content]), { maxBytes, expectedSize: content.length });
      return key;
    },

    /** Deletes these blobs from the store (a customer's erasure); a missing one is not an error. */
    async deleteBlobs(keys: readonly string[]): Promise<void> {
      for (const key of keys) await blobs.delete(key);
    },

    /** The bytes of the attachments linked to a message, for sending it by mail. */
    async contentsOf(messageId: string): Promise<{ file_name: string; content_type: string; open: () => Promise<Readable> }[]> {
      const rows = await store.listForMessages(db, [messageId]);
      return rows
        .filter((row) => row.status === 'ready' && row.storage_key)
        .map((row) => ({ file_name: row.file_name, content_type: row.content_type, open: () => blobs.read(row.storage_key!) }));
    },

    /** The attachment with a fresh download URL; another brand's attachment is a 404. */
    async get(principal: Principal, id: string): Promise<AttachmentDetail> {
      const row = await store.findAttachment(db, id);
      if (!row || !isVisible(principal, row)) throw notFound('Attachment', quote(id));
      return {
        ...(await viewOf(db, row)),
        status: row.status as AttachmentDetail['status'],
        brand_id: row.brand_id,
        ticket_id: row.ticket_id,
        message_id: row.message_id,
        created_at: row.created_at,
      };
    },

    /**
     * Receives the bytes for a signed upload URL. Checks, in order: signature (403), expiry (410),
     * one-shot use (410; 409 while another upload runs), Content-Type (415), size (413). The body
     * streams to the blob store; a rejected or broken upload keeps nothing and leaves the URL
     * usable until it expires. The attempt holds the attachment under a lease this process renews;
     * should the process die mid-upload, the URL is usable again once the lease lapses.
     */
    async upload(token: string, input: UploadInput): Promise<UploadedAttachment> {
      const check = await checkToken('upload', token);
      if (!check.ok && check.reason === 'invalid')
        throw new AppError('upload_url_invalid', 'This upload URL is not valid; use the upload_url exactly as POST /v1/attachments returned it');
      if (!check.ok) throw new AppError('upload_url_expired', 'This upload URL has expired; request a new one with POST /v1/attachments');
      const row = await store.findAttachment(db, check.attachmentId);
      if (!row || !claimable(row, clock.now())) throw notPending(row);
      if (!input.contentType || !sameMediaType(input.contentType, row.content_type)) {
        throw new AppError('unsupported_media_type', `Send the file with Content-Type: ${row.content_type}, as declared when the upload URL was requested`);
      }
      const maxBytes = config.attachmentMaxBytes;
      if (input.contentLength !== undefined && input.contentLength > maxBytes) {
        throw new AppError('payload_too_large', `The file is larger than the limit of ${maxBytes} bytes`);
      }
      const declared = numberOrNull(row.declared_size);
      if (declared !== null && input.contentLength !== undefined && input.contentLength !== declared) {
        throw new AppError('bad_request', `Content-Length is ${input.contentLength} but the attachment was declared with size ${declared}`);
      }

      // Each attempt writes a blob of its own: an attempt that lost its lease (its process stalled
      // and another took over) can never overwrite or delete the bytes of the one that won.
      const now = clock.now();
      const storageKey = newId('blob', now.getTime());
      const leaseUntil = () => toTimestamp(new Date(clock.now().getTime() + UPLOAD_LEASE_MS));
      if (!(await store.claimUpload(db, row.id, { storage_key: storageKey, now: toTimestamp(now), lease_expires_at: leaseUntil() }))) {
        throw notPending(await store.findAttachment(db, row.id));
      }
      const renew = setInterval(() => {
        // A failed renewal only shortens the lease; the completion below checks the slot is still ours.
        store.extendUploadLease(db, row.id, storageKey, leaseUntil()).catch(() => {});
      }, UPLOAD_LEASE_RENEW_MS);
      renew.unref();
      let stored: StoredBlob;
      try {
        stored = await blobs.put(storageKey, input.body, { maxBytes, expectedSize: declared ?? input.contentLength });
        if (input.bodyComplete?.() === false) {
          await blobs.delete(storageKey);
          throw new AppError('bad_request', 'The connection closed before the whole file arrived');
        }
      } catch (err) {
        clearInterval(renew);
        // Should this fail too (database gone), the lease lapses on its own and the URL works again.
        await store.releaseUpload(db, row.id, storageKey).catch(() => {});
        if (err instanceof BlobTooLargeError) throw new AppError('payload_too_large', `The file is larger than the limit of ${maxBytes} bytes`);
        if (err instanceof BlobSizeMismatchError) {
          throw new AppError('bad_request', `The body was ${err.received} bytes but ${err.expected} were announced`);
        }
        throw err;
      }
      clearInterval(renew);
      const done = await store.completeUpload(db, row.id, storageKey, { size: stored.size, sha256: stored.sha256, uploaded_at: toTimestamp(clock.now()) });
      if (!done) {
        await blobs.delete(storageKey);
        throw notPending(await store.findAttachment(db, row.id));
      }
      return { id: row.id, file_name: row.file_name, content_type: row.content_type, status: 'ready', size: stored.size, sha256: stored.sha256 };
    },

    /** Resolves a signed download URL: tampered or signed with an unknown key is a 403, expired a 410, gone a 404. */
    async download(token: string): Promise<Download> {
      const check = await checkToken('download', token);
      if (!check.ok && check.reason === 'invalid') throw new AppError('download_url_invalid', 'This download URL is not valid');
      if (!check.ok) throw new AppError('download_url_expired', 'This download URL has expired; GET /v1/attachments/{id} returns a fresh one');
      const row = await store.findAttachment(db, check.attachmentId);
      if (row?.status !== 'ready' || !row.storage_key || row.sha256 === null) throw new AppError('not_found', 'This download URL is not valid');
      const key = row.storage_key;
      return {
        attachment: { ...(await viewOf(db, row)), size: Number(row.size), sha256: row.sha256 },
        open: (range) => blobs.read(key, range),
      };
    },

    /** Removes partial upload files that no running upload owns; see `removeAbandonedParts` above. */
    removeAbandonedParts,

    /**
     * Removes attachments (row, then bytes) that were created more than 24 hours ago and never
     * linked to a message, whatever their status. Returns how many went.
     */
    async sweepUnlinked(): Promise<number> {
      const before = toTimestamp(new Date(clock.now().getTime() - UNLINKED_TTL_MS));
      // Partial files of uploads a crash interrupted; no row points at them.
      await removeAbandonedParts();
      let removed = 0;
      for (;;) {
        const batch = await store.listUnlinkedBefore(db, before, 100);
        let progressed = false;
        for (const row of batch) {
          // Row first: a blob without a row is garbage, a row without its blob would be a broken link.
          if (!(await store.deleteUnlinked(db, row.id))) continue;
          progressed = true;
          removed++;
          if (row.storage_key) await blobs.delete(row.storage_key);
        }
        if (batch.length < 100 || !progressed) return removed;
      }
    },
  };
}

export type AttachmentService = ReturnType<typeof createAttachmentService>;
