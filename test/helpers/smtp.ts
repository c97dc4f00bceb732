import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { createMailSender } from '../../src/email/outbound.js';
import { startSmtpListener } from '../../src/email/smtp-listener.js';
import type { TestApp } from './app.js';

export interface CapturedMail {
  envelope: { from: string; to: string[] };
  raw: Buffer;
  parsed: ParsedMail;
}

/** A relay for our outbound mail that keeps what it gets; recipients starting with `reject` get a 550. */
export async function startCapturingRelay(port = 0): Promise<{ port: number; mails: CapturedMail[]; close(): Promise<void> }> {
  const mails: CapturedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (address.address.startsWith('reject')) return callback(Object.assign(new Error('5.1.1 no such user'), { responseCode: 550 }));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        simpleParser(raw).then(
          (parsed) => {
            const from = session.envelope.mailFrom;
            mails.push({ envelope: { from: from ? from.address : '', to: session.envelope.rcptTo.map((r) => r.address) }, raw, parsed });
            callback();
          },
          (err: Error) => callback(err),
        );
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port: (server.server.address() as AddressInfo).port,
    mails,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Log lines a component wrote, for asserting that something was logged. */
export function captureLog() {
  const lines: { level: string; obj: unknown; msg: string | undefined }[] = [];
  const at =
    (level: string) =>
    (obj: unknown, msg?: string): void => {
      lines.push({ level, obj, msg });
    };
  return { lines, log: { info: at('info'), warn: at('warn'), error: at('error') } };
}

/** Our SMTP listener on a free port for the test app, closed when the test ends. */
export async function startTestListener(t: { after(fn: () => Promise<void>): void }, app: TestApp, log = captureLog().log) {
  const listener = await startSmtpListener({
    config: { ...app.config.email, smtpPort: 0 },
    inbound: app.runtime.services.email.inbound,
    brands: app.runtime.services.brands,
    log,
  });
  t.after(() => listener.close());
  return listener;
}

/** The test app's outbox sender, drained by the test (no timers). */
export function testMailSender(app: TestApp, log = captureLog().log) {
  return createMailSender({
    db: app.runtime.db,
    clock: app.clock,
    config: app.config,
    brands: app.runtime.services.brands,
    attachments: app.runtime.services.attachments,
    messageAttachments: app.runtime.services.attachments.forMessages,
    replyTokens: app.runtime.services.email.replyTokens,
    log,
  });
}

/** A customer's mail client: nodemailer talking SMTP to `port`. */
export function customerTransport(port: number, options: { tls?: boolean } = {}) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ...(options.tls ? { requireTLS: true, tls: { rejectUnauthorized: false } } : { ignoreTLS: true }),
  });
}
