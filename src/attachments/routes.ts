import { Readable } from 'node:stream';
import type { FastifyError } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../http/auth.js';
import { AppError } from '../http/problem.js';
import { type App, errorResponses } from '../http/types.js';
import { contentDisposition, parseRange } from './download-headers.js';
import {
  AttachmentDetailSchema,
  AttachmentIdParams,
  CreateAttachmentBody,
  CreatedAttachmentSchema,
  SignedTokenParams,
  UploadedAttachmentSchema,
} from './schemas.js';
import type { AttachmentService } from './service.js';

const problem = Type.Ref('Problem');
// Per-content-type response: the OpenAPI document then shows the bytes as what they are, under
// whatever media type the file was declared with (hence */*).
const fileBytes = (description: string) => ({
  description,
  content: {
    '*/*': { schema: Type.String({ contentMediaType: 'application/octet-stream', description: 'The file, byte for byte, with its declared Content-Type' }) },
  },
});

export function attachmentRoutes(app: App, attachments: AttachmentService): void {
  app.post(
    '/v1/attachments',
    {
      config: { scope: 'tickets:write', brands: 'body' },
      schema: {
        tags: ['Attachments'],
        summary: 'Request an upload URL',
        description:
          'Registers a file and returns a signed upload_url. PUT the bytes to it (no bearer token, same Content-Type), then pass the id in `attachments` of POST /v1/tickets/{id}/messages. Uploads not linked within 24 hours are deleted.',
        body: CreateAttachmentBody,
        response: { 201: CreatedAttachmentSchema, ...errorResponses(422) },
      },
    },
    async (request, reply) => {
      const created = await attachments.create(principalOf(request), request.body);
      return reply.status(201).header('Location', `/v1/attachments/${created.id}`).send(created);
    },
  );

  app.get(
    '/v1/attachments/:attachment_id',
    {
      config: { scope: 'tickets:read', brands: 'resource' },
      schema: {
        tags: ['Attachments'],
        summary: 'Retrieve an attachment',
        description: 'Its status and, once uploaded, size, SHA-256 and a fresh download_url (signed, valid 15 minutes, no bearer token needed).',
        params: AttachmentIdParams,
        response: { 200: AttachmentDetailSchema, ...errorResponses(404) },
      },
    },
    async (request) => attachments.get(principalOf(request), request.params.attachment_id),
  );

  app.register(async (transfer) => transferRoutes(transfer as unknown as App, attachments));
}

/**
 * The signed-URL routes: public (the URL is the credential), and in their own plugin so that no
 * JSON parser and no 1 MiB body limit applies: every body arrives as the raw stream, untouched.
 */
function transferRoutes(app: App, attachments: AttachmentService): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  // Fastify refuses a malformed Content-Type before any parser runs; say what this route wants.
  app.setErrorHandler((error: FastifyError, _request, _reply) => {
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      throw new AppError('unsupported_media_type', 'Send the file with the Content-Type declared when the upload URL was requested');
    }
    throw error;
  });
  // The URL alone authorises, so any origin may use it: browsers upload and download directly.
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('Access-Control-Allow-Origin', '*');
  });

  app.options('/v1/uploads/:token', { config: { scope: 'public', brands: 'signed-url' }, schema: { hide: true } }, async (_request, reply) =>
    reply
      .status(204)
      .header('Access-Control-Allow-Methods', 'PUT')
      .header('Access-Control-Allow-Headers', 'Content-Type')
      .header('Access-Control-Max-Age', '600')
      .send(),
  );

  app.put(
    '/v1/uploads/:token',
    {
      // Large bodies on slow links: a minimum rate instead of the whole-request deadline.
      config: { scope: 'public', brands: 'signed-url', streamingBody: true },
      schema: {
        tags: ['Attachments'],
        summary: 'Upload the bytes to a signed upload URL',
        description:
          'The body is the file itself, with the Content-Type declared when the URL was requested. No bearer token: the URL is the credential. It works once and for 15 minutes; a rejected attempt (413, 415, broken connection) does not use it up. While another upload to the same URL runs, a PUT is a 409 with Retry-After; an upload cut off by a server crash frees the URL within 30 seconds.',
        security: [],
        params: SignedTokenParams,
        response: { 200: UploadedAttachmentSchema, 400: problem, 403: problem, 409: problem, 410: problem, 413: problem, 415: problem },
      },
    },
    async (request, reply) => {
      const body = (request.body as Readable | undefined) ?? request.raw;
      const length = request.headers['content-length'];
      try {
        const uploaded = await attachments.upload(request.params.token, {
          contentType: request.headers['content-type'],
          contentLength: length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined,
          body,
          bodyComplete: () => (request.raw as { complete?: boolean }).complete !== false,
        });
        return reply.send(uploaded);
      } catch (err) {
        // A client that hung up is not a server fault: no 500 in the logs, nobody left to answer.
        if (request.raw.destroyed && !(err instanceof AppError)) throw new AppError('bad_request', 'The connection closed before the whole file arrived');
        // The client may still be sending: close rather than read and discard the rest.
        if (!body.readableEnded) reply.header('Connection', 'close');
        throw err;
      }
    },
  );

  app.get(
    '/v1/downloads/:token',
    {
      config: { scope: 'public', brands: 'signed-url' },
      schema: {
        tags: ['Attachments'],
        summary: 'Download an attachment',
        description:
          'A download_url from a message or GET /v1/attachments/{id}: signed, valid 15 minutes, no bearer token. Always served as a download (Content-Disposition: attachment, nosniff). Supports a single `Range: bytes=…` (206, or 416 with no body when unsatisfiable) and If-Range with the ETag.',
        security: [],
        params: SignedTokenParams,
        response: {
          200: fileBytes('The whole file'),
          206: fileBytes('The requested range'),
          403: problem,
          404: problem,
          410: problem,
          416: Type.Null({ description: 'No body; Content-Range: bytes */<size>' }),
        },
      },
    },
    async (request, reply) => {
      const download = await attachments.download(request.params.token);
      const { size, sha256, file_name, content_type } = download.attachment;
      const etag = `"${sha256}"`;
      const ifRange = request.headers['if-range'];
      const range = ifRange === undefined || ifRange === etag ? parseRange(request.headers.range, size) : undefined;
      if (range === 'unsatisfiable') return reply.status(416).header('Content-Range', `bytes */${size}`).send();
      // Opened before any header is set: a failure here must not come out looking like the file.
      const stream = request.method === 'HEAD' ? Readable.from([]) : await download.open(range);
      reply
        .header('Content-Type', content_type)
        .header('Content-Disposition', contentDisposition(file_name))
        .header('X-Content-Type-Options', 'nosniff')
        .header('Content-Security-Policy', "default-src 'none'; sandbox")
        .header('Cache-Control', 'private, no-store')
        .header('Accept-Ranges', 'bytes')
        .header('ETag', etag);
      if (range) {
        reply
          .status(206)
          .header('Content-Range', `bytes ${range.start}-${range.end}/${size}`)
          .header('Content-Length', String(range.end - range.start + 1));
      } else {
        reply.header('Content-Length', String(size));
      }
      return reply.send(stream);
    },
  );
}
