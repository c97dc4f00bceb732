/**
 * One round trip through Debian's Postfix as the MTA in both directions, for .ci/run (npm run
 * test:postfix): not part of npm test, because it reconfigures and starts the machine's Postfix
 * (root, apt-get install postfix). Postfix listens on 127.0.0.1:25, relays mail for acme.test to our
 * SMTP listener and mail for example.net (the customer) to a capturing server; NexusCore sends its
 * replies through Postfix (NEXUS_MAIL_RELAY_URL=smtp://127.0.0.1:25).
 *
 *   customer ──SMTP──▶ Postfix ──▶ our listener ──▶ ticket
 *   agent reply ──▶ outbox ──SMTP──▶ Postfix ──▶ customer's server (captured)
 *   customer's answer ──▶ Postfix ──▶ our listener ──▶ same ticket
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { build } from '../helpers/app.js';
import { brandWithAddresses } from '../helpers/email.js';
import { customerTransport, startCapturingRelay, startTestListener, testMailSender } from '../helpers/smtp.js';
import { waitFor } from '../helpers/wait.js';

const TRANSPORT = '/etc/postfix/nexus_transport';

function postfix(...args: string[]): string {
  return execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('a round trip through Postfix', () => {
  it('customer mail in through Postfix, the reply out through Postfix with its threading headers, the answer back on the same ticket', async (t) => {
    const relay = await startCapturingRelay();
    t.after(() => relay.close());
    const app = await build(t, { env: { NEXUS_MAIL_RELAY_URL: 'smtp://127.0.0.1:25' } });
    await brandWithAddresses(app, ['support@acme.test']);
    const listener = await startTestListener(t, app);
    const sender = testMailSender(app);

    fs.writeFileSync(TRANSPORT, `acme.test smtp:[127.0.0.1]:${listener.port}\nexample.net smtp:[127.0.0.1]:${relay.port}\n`);
    postfix(
      'postconf',
      '-e',
      'inet_interfaces = loopback-only',
      'inet_protocols = ipv4',
      'myhostname = mta.nexus.test',
      'mydestination =',
      'relay_domains = acme.test',
      `transport_maps = texthash:${TRANSPORT}`,
      'mynetworks = 127.0.0.0/8',
      'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination',
      'smtp_tls_security_level = none',
      'smtp_host_lookup = native',
      'maillog_file = /var/log/postfix-nexus.log',
      'compatibility_level = 3.6',
    );
    try {
      postfix('postfix', 'reload');
    } catch {
      postfix('postfix', 'start');
    }
    await waitFor('Postfix answers on 127.0.0.1:25', 60_000, async () => {
      try {
        await customerTransport(25).verify();
        return true;
      } catch {
        return undefined;
      }
    });
    const customer = customerTransport(25);
    const maillog = () => (fs.existsSync('/var/log/postfix-nexus.log') ? fs.readFileSync('/var/log/postfix-nexus.log', 'utf8').slice(-4000) : '(no log)');

    await customer.sendMail({
      from: 'Casey <casey@example.net>',
      to: 'support@acme.test',
      subject: 'Through Postfix',
      text: 'Hello from the MTA.',
      messageId: '<pf-1@example.net>',
    });
    const ticket = await waitFor(`the mail reaches a ticket through Postfix\n${maillog()}`, 120_000, async () => {
      const list = (await app.request({ method: 'GET', url: '/v1/tickets' })).json().data;
      return list[0];
    });
    assert.equal(ticket.subject, 'Through Postfix');
    assert.equal(ticket.origin, 'email');

    const reply = await app.request({
      method: 'POST',
      url: `/v1/tickets/${ticket.id}/messages`,
      body: { author_type: 'agent', body: 'Answered through Postfix.' },
    });
    assert.equal(reply.statusCode, 201);
    await sender.drain();
    const out = await waitFor(`the reply reaches the customer's server through Postfix\n${maillog()}`, 120_000, () => relay.mails[0]);
    assert.equal(out.parsed.subject, `Re: Through Postfix [#${ticket.id}]`);
    assert.equal(out.parsed.inReplyTo, '<pf-1@example.net>');
    assert.match(out.parsed.replyTo?.value[0]?.address ?? '', new RegExp(`^support\\+${ticket.id}\\.[0-9a-f]{12}@acme\\.test$`));
    assert.match(out.raw.toString('latin1'), /^Received: [^\r\n]*(\r?\n[ \t][^\r\n]*)*by mta\.nexus\.test \(Postfix\)/m, 'it went through Postfix');

    await customer.sendMail({
      from: 'casey@example.net',
      to: out.parsed.replyTo!.value[0]!.address!,
      subject: out.parsed.subject!,
      inReplyTo: out.parsed.messageId!,
      references: [out.parsed.messageId!],
      text: 'Thanks!\n\nOn Mon, Acme wrote:\n> Answered through Postfix.\n',
    });
    await waitFor(`the answer lands on the same ticket\n${maillog()}`, 120_000, async () => {
      const messages = (await app.request({ method: 'GET', url: `/v1/tickets/${ticket.id}/messages` })).json().data;
      return messages.length === 3 ? messages : undefined;
    });
    const messages = (await app.request({ method: 'GET', url: `/v1/tickets/${ticket.id}/messages` })).json().data;
    assert.equal(messages[2].body, 'Thanks!');
    assert.equal((await app.request({ method: 'GET', url: '/v1/tickets' })).json().data.length, 1);
    customer.close();
    postfix('postfix', 'stop');
  });
});
