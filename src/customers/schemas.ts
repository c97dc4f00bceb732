import { Type } from 'typebox';

/**
 * What an erasure changed, or would change (dry run): the answer of POST
 * /v1/customers/{id}/erase and the data of the customer.erased event. Counts only, never content.
 */
export const ErasureCountsSchema = Type.Object(
  {
    tickets: Type.Integer({
      minimum: 0,
      description:
        'Tickets changed: theirs (address and name replaced) and others that named them (cc, text); each re-indexed for search and given a new version',
    }),
    messages: Type.Integer({ minimum: 0, description: 'Messages redacted: written by them (author), copying them (cc) or naming them in the text' }),
    attachments: Type.Integer({
      minimum: 0,
      description:
        'Attachments deleted with their bytes: files on their messages, the raw mails (original.eml) that carried their address, files named after them',
    }),
    audit_entries: Type.Integer({ minimum: 0, description: 'Audit entries redacted (not counting the customer.erased entries added)' }),
    events: Type.Integer({ minimum: 0, description: 'Stored events redacted (GET /v1/events and webhook retries serve the redacted text)' }),
    webhook_attempts: Type.Integer({ minimum: 0, description: 'Webhook attempt records whose stored response or error named them, redacted' }),
    inbound_emails: Type.Integer({ minimum: 0, description: 'Records of received mail redacted (sender), their raw mails deleted' }),
    outbox: Type.Integer({ minimum: 0, description: 'Replies to them still waiting to be e-mailed, cancelled (marked failed)' }),
    kept_responses: Type.Integer({ minimum: 0, description: 'Responses kept for Idempotency-Key replays that held their data, dropped' }),
  },
  { $id: 'ErasureCounts', additionalProperties: false },
);
