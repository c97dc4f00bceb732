import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { build } from '../helpers/app.js';
import { brandWithAddresses } from '../helpers/email.js';
import { countRows } from '../helpers/factories.js';
import { captureLog, customerTransport, startCapturingRelay, startTestListener, testMailSender } from '../helpers/smtp.js';
import { ROOT, freePort } from '../helpers/server-process.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read as loose JSON here
type Json = any;

describe('e-mail over real SMTP', () => {
  it('the whole loop: mail → ticket → reply mailed with threading headers → customer reply on the same ticket → auto-reply ignored → internal note not sent → relay down then up delivers once', async (t) => {
    const relay = await startCapturingRelay();
    let relayPort = relay.port;
    let currentRelay = relay;
    t.after(() => currentRelay.close());
    const app = await build(t, { env: { NEXUS_MAIL_RELAY_URL: `smtp://127.0.0.1:${relayPort}`, NEXUS_MAIL_FROM_NAME: 'Acme Support' } });
    const brand = await brandWithAddresses(app, ['support@acme.test', 'help@acme.test']);
    const { lines, log } = captureLog();
    const listener = await startTestListener(t, app, log);
    const sender = testMailSender(app);
    const customer = customerTransport(listener.port);
    const ticketOf = async (id: string): Promise<Json> => (await app.request({ method: 'GET', url: `/v1/tickets/${id}` })).json();

    // 1. A new mail becomes a ticket, acknowledged with 250 only once stored.
    const sent = await customer.sendMail({
      from: 'Casey Customer <casey@example.net>',
      to: 'support@acme.test',
      cc: 'robin@example.net',
      subject: 'Printer on fire',
      text: 'It started smoking this morning.',
      messageId: '<first@example.net>',
    });
    assert.match(sent.response, /^250 .*ticket_created/);
    const [listed] = (await app.request({ method: 'GET', url: '/v1/tickets' })).json().data;
    assert.equal(listed.origin, 'email');
    assert.equal(listed.brand_id, brand.id);
    const ticketId: string = listed.id;

    // 2. An agent's reply is queued in the request and mailed by the sender, threaded.
    const reply = await app.request({
      method: 'POST',
      url: `/v1/tickets/${ticketId}/messages`,
      body: { author_type: 'agent', body: 'Have you tried turning it off?' },
    });
    assert.equal(reply.statusCode, 201, reply.body);
    assert.deepEqual(reply.json().delivery, { status: 'queued', attempts: 0, last_error: null });
    assert.equal(relay.mails.length, 0, 'nothing is sent inside the request');
    await sender.drain();
    assert.equal(relay.mails.length, 1);
    const out = relay.mails[0]!;
    assert.equal(out.parsed.from?.value[0]?.address, 'support@acme.test');
    assert.equal(out.parsed.from?.value[0]?.name, 'Acme Support');
    assert.deepEqual(out.envelope.to, ['casey@example.net'], 'to the customer (and the message cc, none here)');
    assert.equal(out.parsed.subject, `Re: Printer on fire [#${ticketId}]`);
    assert.equal(out.parsed.inReplyTo, '<first@example.net>');
    assert.deepEqual([out.parsed.references].flat(), ['<first@example.net>']);
    const replyTo = out.parsed.replyTo?.value[0]?.address ?? '';
    assert.match(replyTo, new RegExp(`^support\\+${ticketId}\\.[0-9a-f]{12}@acme\\.test$`));
    assert.equal(out.parsed.text?.trim(), 'Have you tried turning it off?');
    const ourMessageId = out.parsed.messageId!;
    let ticket = await ticketOf(ticketId);
    assert.deepEqual(ticket.messages[1].delivery, { status: 'sent', attempts: 1, last_error: null });

    // 3. The customer's reply (In-Reply-To our Message-ID, Gmail quoting) reopens the pending ticket.
    await app.request({ method: 'PATCH', url: `/v1/tickets/${ticketId}`, body: { status: 'pending' } });
    await customer.sendMail({
      from: 'casey@example.net',
      to: 'support@acme.test',
      subject: `Re: Printer on fire [#${ticketId}]`,
      inReplyTo: ourMessageId,
      references: [ourMessageId],
      text: `Yes, still smoking.\n\nOn Thu, 15 Jan 2026 at 10:00, Acme Support <support@acme.test> wrote:\n> Have you tried turning it off?\n`,
    });
    ticket = await ticketOf(ticketId);
    assert.equal(ticket.status, 'open', 'a customer reply reopens a pending ticket');
    const customerReply = ticket.messages[2];
    assert.equal(customerReply.author_type, 'customer');
    assert.equal(customerReply.body, 'Yes, still smoking.');
    assert.match(customerReply.full_body, /> Have you tried turning it off\?/);

    // 4. A reply that only carries the reply token (a client that drops the headers) lands there too.
    await customer.sendMail({ from: 'casey@example.net', to: replyTo, subject: 'one more thing', text: 'It smells of toast.' });
    ticket = await ticketOf(ticketId);
    assert.equal(ticket.messages.length, 4);
    assert.equal(ticket.messages[3].body, 'It smells of toast.');

    // 5. An auto-reply naming the thread is ignored: no message, the resolved ticket stays resolved, nothing mailed.
    await app.request({ method: 'PATCH', url: `/v1/tickets/${ticketId}`, body: { status: 'resolved' } });
    const auto = await customer.sendMail({
      from: 'casey@example.net',
      to: 'support@acme.test',
      subject: 'Out of office',
      inReplyTo: ourMessageId,
      headers: { 'Auto-Submitted': 'auto-replied' },
      text: 'I am away until Monday.',
    });
    assert.match(auto.response, /^250 .*ignored/);
    ticket = await ticketOf(ticketId);
    assert.equal(ticket.status, 'resolved');
    assert.equal(ticket.messages.length, 4);

    // 6. An internal note is stored, marked, never mailed.
    const note = await app.request({
      method: 'POST',
      url: `/v1/tickets/${ticketId}/messages`,
      body: { author_type: 'agent', body: 'Customer sounds upset', visibility: 'internal' },
    });
    assert.equal(note.json().visibility, 'internal');
    assert.equal(note.json().delivery, null);
    await sender.drain();
    assert.equal(relay.mails.length, 1, 'the internal note was not mailed');
    const noteEvent = (await app.request({ method: 'GET', url: '/v1/events?type=ticket.message_created&limit=500' })).json().data.at(-1);
    assert.equal(noteEvent.data.message.visibility, 'internal', 'webhook payloads mark internal notes');

    // 7. Relay down: the attempt fails and is recorded; relay up: delivered once.
    await relay.close();
    const later = await app.request({
      method: 'POST',
      url: `/v1/tickets/${ticketId}/messages`,
      body: { author_type: 'agent', body: 'A technician is on the way.' },
    });
    await sender.drain();
    ticket = await ticketOf(ticketId);
    const failedOnce = ticket.messages.find((m: Json) => m.id === later.json().id);
    assert.equal(failedOnce.delivery.status, 'queued');
    assert.equal(failedOnce.delivery.attempts, 1);
    assert.ok(failedOnce.delivery.last_error, 'the failure is recorded');
    currentRelay = await startCapturingRelay(relayPort);
    relayPort = currentRelay.port;
    await sender.drain();
    assert.equal(currentRelay.mails.length, 0, 'not before the retry is due');
    app.clock.advance(2 * 60_000);
    await sender.drain();
    await sender.drain();
    assert.equal(currentRelay.mails.length, 1, 'delivered once');
    ticket = await ticketOf(ticketId);
    assert.deepEqual(ticket.messages.find((m: Json) => m.id === later.json().id).delivery, { status: 'sent', attempts: 2, last_error: null });
    const lastCustomerMail = await app.runtime.db
      .selectFrom('messages')
      .select('email_message_id')
      .where('id', '=', ticket.messages[3].id)
      .executeTakeFirstOrThrow();
    assert.equal(currentRelay.mails[0]!.parsed.inReplyTo, `<${lastCustomerMail.email_message_id}>`, 'answers the latest customer mail');
    assert.ok([currentRelay.mails[0]!.parsed.references].flat().includes(ourMessageId), 'References carry the thread');

    // 8. Unknown recipients are refused at RCPT with 550, and logged.
    await assert.rejects(customer.sendMail({ from: 'casey@example.net', to: 'nobody@acme.test', subject: 'x', text: 'x' }), (err: Json) => {
      assert.equal(err.responseCode, 550);
      return true;
    });
    assert.ok(
      lines.some((l) => l.level === 'warn' && /unknown recipient/.test(l.msg ?? '')),
      'the refusal is logged',
    );
    // Our own address as sender is ignored (a loop through a forwarding rule).
    const own = await customer.sendMail({ from: 'help@acme.test', to: 'support@acme.test', subject: 'loop', text: 'x' });
    assert.match(own.response, /ignored/);
    assert.equal(await countRows(app, 'tickets'), 1);
    customer.close();
  });

  it('a relay that refuses for good, or a bounce of our mail, marks the message failed and emits ticket.message_delivery_failed', async (t) => {
    const relay = await startCapturingRelay();
    t.after(() => relay.close());
    const app = await build(t, { env: { NEXUS_MAIL_RELAY_URL: `smtp://127.0.0.1:${relay.port}` } });
    await brandWithAddresses(app, ['support@acme.test']);
    const listener = await startTestListener(t, app);
    const sender = testMailSender(app);
    const customer = customerTransport(listener.port);
    const ticket = (
      await app.request({
        method: 'POST',
        url: '/v1/tickets',
        body: {
          brand_id: (await app.request({ method: 'GET', url: '/v1/brands' })).json().data[0].id,
          subject: 'Hi',
          customer: { email: 'reject@example.net' },
        },
      })
    ).json();
    const refused = (await app.request({ method: 'POST', url: `/v1/tickets/${ticket.id}/messages`, body: { author_type: 'agent', body: 'Hello' } })).json();
    await sender.drain();
    const failed = (await app.request({ method: 'GET', url: `/v1/tickets/${ticket.id}/messages` })).json().data.find((m: Json) => m.id === refused.id);
    assert.equal(failed.delivery.status, 'failed');
    assert.equal(failed.delivery.attempts, 1);
    assert.match(failed.delivery.last_error, /550/);
    const events = (await app.request({ method: 'GET', url: '/v1/events?type=ticket.message_delivery_failed' })).json().data;
    assert.equal(events.length, 1);
    assert.equal(events[0].data.message.id, refused.id);

    // A mail that went out and later bounced (a DSN naming its Message-ID) is marked failed too.
    const okTicket = (
      await app.request({
        method: 'POST',
        url: '/v1/tickets',
        body: { brand_id: ticket.brand_id, subject: 'Hi again', customer: { email: 'gone@example.net' } },
      })
    ).json();
    const sentMsg = (await app.request({ method: 'POST', url: `/v1/tickets/${okTicket.id}/messages`, body: { author_type: 'agent', body: 'Hello' } })).json();
    await sender.drain();
    const ourId = relay.mails.at(-1)!.parsed.messageId!;
    const dsn = [
      'From: Mail Delivery System <MAILER-DAEMON@mx.example.net>',
      'To: support@acme.test',
      'Subject: Undelivered Mail Returned to Sender',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
      '',
      '--B',
      'Content-Type: text/plain',
      '',
      'I could not deliver your message.',
      '--B',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.example.net',
      '',
      'Final-Recipient: rfc822; gone@example.net',
      'Action: failed',
      'Status: 5.1.1',
      'Diagnostic-Code: smtp; 550 5.1.1 user unknown',
      '--B',
      'Content-Type: text/rfc822-headers',
      '',
      'From: support@acme.test',
      `Message-ID: ${ourId}`,
      'Subject: Re: Hi again',
      '--B--',
      '',
    ].join('\r\n');
    const bounce = await customer.sendMail({ envelope: { from: '', to: ['support@acme.test'] }, raw: dsn });
    assert.match(bounce.response, /bounce/);
    const bounced = (await app.request({ method: 'GET', url: `/v1/tickets/${okTicket.id}/messages` })).json().data.find((m: Json) => m.id === sentMsg.id);
    assert.equal(bounced.delivery.status, 'failed');
    assert.match(bounced.delivery.last_error, /user unknown/);
    assert.equal((await app.request({ method: 'GET', url: '/v1/events?type=ticket.message_delivery_failed' })).json().data.length, 2);
    assert.equal((await app.request({ method: 'GET', url: `/v1/tickets/${okTicket.id}/messages` })).json().data.length, 1, 'a bounce never becomes a message');
    customer.close();
  });

  it('a relay that stays down: retried on NEXUS_MAIL_RETRY_SCHEDULE, then failed with ticket.message_delivery_failed', async (t) => {
    const app = await build(t, { env: { NEXUS_MAIL_RELAY_URL: `smtp://127.0.0.1:${await freePort()}`, NEXUS_MAIL_RETRY_SCHEDULE: '1s' } });
    const brand = await brandWithAddresses(app, ['support@acme.test']);
    const sender = testMailSender(app);
    const ticket = (
      await app.request({ method: 'POST', url: '/v1/tickets', body: { brand_id: brand.id, subject: 'Hi', customer: { email: 'c@example.net' } } })
    ).json();
    const reply = (await app.request({ method: 'POST', url: `/v1/tickets/${ticket.id}/messages`, body: { author_type: 'agent', body: 'Hello' } })).json();
    const delivery = async () =>
      (await app.request({ method: 'GET', url: `/v1/tickets/${ticket.id}/messages` })).json().data.find((m: Json) => m.id === reply.id).delivery;
    await sender.drain();
    assert.equal((await delivery()).status, 'queued');
    assert.equal((await delivery()).attempts, 1);
    app.clock.advance(5000);
    await sender.drain();
    const final = await delivery();
    assert.equal(final.status, 'failed');
    assert.equal(final.attempts, 2);
    assert.match(final.last_error, /ECONNREFUSED|connect/i);
    const events = (await app.request({ method: 'GET', url: '/v1/events?type=ticket.message_delivery_failed' })).json().data;
    assert.deepEqual(
      events.map((e: Json) => [e.data.message.id, e.data.message.delivery.status]),
      [[reply.id, 'failed']],
    );
    assert.equal(await app.runtime.db.selectFrom('email_outbox').selectAll().executeTakeFirst(), undefined, 'the outbox is empty');
  });

  it('STARTTLS with NEXUS_SMTP_TLS_CERT/_KEY, the size limit answered with 552, a sender over its limit with 451', async (t) => {
    const app = await build(t, {
      env: {
        NEXUS_SMTP_TLS_CERT: `${ROOT}/test/fixtures/email/tls-cert.pem`,
        NEXUS_SMTP_TLS_KEY: `${ROOT}/test/fixtures/email/tls-key.pem`,
        NEXUS_SMTP_MAX_BYTES: '20000',
        NEXUS_MAIL_SENDER_LIMIT: '1',
      },
    });
    await brandWithAddresses(app, ['support@acme.test']);
    const listener = await startTestListener(t, app);
    const tls = customerTransport(listener.port, { tls: true });
    const ok = await tls.sendMail({ from: 'casey@example.net', to: 'support@acme.test', subject: 'Over TLS', text: 'secret' });
    assert.match(ok.response, /^250/);
    await assert.rejects(tls.sendMail({ from: 'casey@example.net', to: 'support@acme.test', subject: 'Big', text: 'x'.repeat(30_000) }), (err: Json) => {
      assert.equal(err.responseCode, 552);
      return true;
    });
    // The refused mail did not count; the next one is over the hourly limit of 1: try again later.
    await assert.rejects(tls.sendMail({ from: 'casey@example.net', to: 'support@acme.test', subject: 'Again', text: 'more' }), (err: Json) => {
      assert.equal(err.responseCode, 451);
      return true;
    });
    tls.close();
    assert.equal(await countRows(app, 'tickets'), 1);
  });
});
