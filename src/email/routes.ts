import { Type } from 'typebox';
import { principalOf } from '../http/auth.js';
import { AppError } from '../http/problem.js';
import { type App, errorResponses } from '../http/types.js';
import { INBOUND_OUTCOMES, type InboundMail } from './inbound.js';

const literals = <const T extends readonly string[]>(values: T, description: string) => Type.Unsafe<T[number]>(Type.Enum([...values], { description }));

export const InboundResultSchema = Type.Object(
  {
    id: Type.Union([Type.String(), Type.Null()], { description: 'inb_…: the record of this mail; null for a duplicate' }),
    outcome: literals(
      INBOUND_OUTCOMES,
      'ticket_created, message_added (a reply threaded onto a ticket), duplicate (this Message-ID was received before), ignored (an auto-reply, bulk mail or our own mail), bounce (a delivery failure report; our message it names is marked failed)',
    ),
    reason: Type.Union([Type.String(), Type.Null()]),
    brand_id: Type.String(),
    ticket_id: Type.Union([Type.String(), Type.Null()]),
    message_id: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'InboundEmailResult' },
);

/** `POST /v1/inbound/email`: the HTTP way in for mail, for providers that forward inbound mail over HTTP. */
export function inboundEmailRoutes(app: App, inbound: InboundMail, maxBytes: number): void {
  app.register(async (scope) => {
    // The raw message, as bytes: its charset is its own business (8-bit headers, parts in any charset).
    scope.addContentTypeParser('message/rfc822', { parseAs: 'buffer', bodyLimit: maxBytes }, (_request, body, done) => done(null, body));
    (scope as unknown as App).post(
      '/v1/inbound/email',
      {
        bodyLimit: maxBytes,
        config: { scope: 'email:ingest', brands: 'body' },
        schema: {
          tags: ['E-mail'],
          summary: 'Receive an e-mail',
          description:
            'The body is one raw RFC 5322 message (Content-Type: message/rfc822), as a mail provider forwards it. It is processed exactly as mail to the SMTP listener: a new ticket (201), a customer message on the ticket it answers (201), or nothing for auto-replies, bulk mail, our own mail and duplicates (200); a bounce of our mail marks that message failed (200). The brand is the first recipient (To, Cc, Delivered-To, X-Original-To) that is an address of a brand the token can see; none is a 422 at /to. See docs/email.md.',
          response: { 200: Type.Ref('InboundEmailResult'), 201: Type.Ref('InboundEmailResult'), ...errorResponses(413, 415, 422) },
        },
      },
      async (request, reply) => {
        const body = request.body;
        if (!Buffer.isBuffer(body)) throw new AppError('unsupported_media_type', 'Send the raw message with Content-Type: message/rfc822');
        if (body.length === 0) throw new AppError('validation_failed', 'The message is empty', { errors: [{ pointer: '', message: 'must not be empty' }] });
        const result = await inbound.receive(principalOf(request), body);
        const created = result.outcome === 'ticket_created' || result.outcome === 'message_added';
        return reply.status(created ? 201 : 200).send(result);
      },
    );
  });
}
