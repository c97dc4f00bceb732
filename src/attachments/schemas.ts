import { Type } from 'typebox';
import { Timestamp } from '../http/types.js';
import { idPattern } from '../shared/ids.js';

// RFC 9110 media type: type "/" subtype *( ";" parameter ), tokens and quoted strings only, so a
// declared type can go back out as a Content-Type header without any chance of injection.
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_TYPE = `^${TOKEN}/${TOKEN}(\\s*;\\s*${TOKEN}=(${TOKEN}|"[^"\\\\\\u0000-\\u001f\\u007f]*"))*$`;

const Status = Type.Unsafe<'pending' | 'uploading' | 'ready'>(
  Type.Enum(['pending', 'uploading', 'ready'], { description: 'pending: waiting for the bytes; uploading: a PUT is running; ready: stored and linkable' }),
);

export const CreateAttachmentBody = Type.Object(
  {
    file_name: Type.String({
      minLength: 1,
      maxLength: 255,
      description: 'Shown to people and used as the download name; any characters but control characters and line breaks',
    }),
    content_type: Type.String({ maxLength: 255, pattern: MEDIA_TYPE, description: 'Media type of the file, e.g. image/png; the PUT must send the same' }),
    size: Type.Optional(Type.Integer({ minimum: 0, description: 'Bytes; when given, the PUT must send exactly this many' })),
    brand_id: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 100,
        description:
          'Brand the file belongs to. Optional for a token of one brand (its brand) or of every brand (the brand of the ticket it is linked to); required for a token of several brands',
      }),
    ),
  },
  { additionalProperties: false },
);

export const CreatedAttachmentSchema = Type.Object({
  id: Type.String({ pattern: idPattern('att') }),
  file_name: Type.String(),
  content_type: Type.String(),
  status: Type.Literal('pending'),
  upload_url: Type.String({ description: 'PUT the bytes here, with the declared Content-Type and no Authorization header; works once, for 15 minutes' }),
  upload_expires_at: Timestamp,
});

export const UploadedAttachmentSchema = Type.Object({
  id: Type.String(),
  file_name: Type.String(),
  content_type: Type.String(),
  status: Type.Literal('ready'),
  size: Type.Integer(),
  sha256: Type.String({ description: 'Lower-case hex SHA-256 of the stored bytes' }),
});

export const AttachmentDetailSchema = Type.Intersect([
  Type.Ref('MessageAttachment'),
  Type.Object({
    status: Status,
    brand_id: Type.Union([Type.String(), Type.Null()], { description: 'null until linked, for an attachment made by an all-brands token without brand_id' }),
    ticket_id: Type.Union([Type.String(), Type.Null()]),
    message_id: Type.Union([Type.String(), Type.Null()]),
    created_at: Timestamp,
  }),
]);

export const AttachmentIdParams = Type.Object({ attachment_id: Type.String({ description: 'An attachment id, att_…' }) });
export const SignedTokenParams = Type.Object({ token: Type.String({ maxLength: 200, description: 'The signed part of the URL' }) });
