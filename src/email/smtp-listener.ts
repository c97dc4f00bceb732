import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { EmailConfig } from '../config.js';
import { systemPrincipal } from '../auth/scopes.js';
import type { BrandService } from '../brands/service.js';
import { AppError } from '../http/problem.js';
import type { InboundMail } from './inbound.js';
import { splitAddress } from './reply-token.js';

/** An SMTP refusal: smtp-server answers with `responseCode` and the message. */
const refusal = (responseCode: number, message: string): Error => Object.assign(new Error(message), { responseCode });

/** How many connections at once; more wait for a free slot (421 from smtp-server). */
const MAX_CLIENTS = 100;

export interface SmtpListener {
  port: number;
  close(): Promise<void>;
}

/**
 * The built-in SMTP listener (NEXUS_SMTP_PORT): takes mail for the brands' addresses and hands it
 * to the inbound mail service. Refusals are clear SMTP answers: 550 5.1.1 for an unknown recipient
 * (at RCPT, logged), 552 5.3.4 above NEXUS_SMTP_MAX_BYTES (announced with SIZE), 550 5.1.7 for a
 * message with no sender at all, 451 4.7.1 for a sender over its hourly limit, 451 4.3.0 when the
 * mail could not be stored (the sending server tries again). A 250 is sent only once the mail is
 * stored: the ticket or message committed, the raw message and attachments in the blob store.
 * STARTTLS is offered when NEXUS_SMTP_TLS_CERT and NEXUS_SMTP_TLS_KEY are set. No AUTH: this is an
 * MX, which takes mail for its own addresses only.
 */
export async function startSmtpListener(deps: {
  config: EmailConfig;
  inbound: InboundMail;
  brands: BrandService;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
}): Promise<SmtpListener> {
  const { config, inbound, brands, log } = deps;
  const principal = systemPrincipal('email (SMTP)');
  const tls = config.tls ? { key: fs.readFileSync(config.tls.keyFile), cert: fs.readFileSync(config.tls.certFile) } : {};
  const server = new SMTPServer({
    ...tls,
    secure: false,
    name: undefined,
    banner: 'NexusCore',
    size: config.smtpMaxBytes,
    authOptional: true,
    disabledCommands: config.tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    maxClients: MAX_CLIENTS,
    logger: false,
    async onRcptTo(address, session, callback) {
      const { base } = splitAddress(address.address);
      try {
        if (await brands.brandOfAddress(base)) return callback();
      } catch (err) {
        log.error({ err }, 'SMTP: could not look the recipient up');
        return callback(refusal(451, '4.3.0 Temporary failure, try again later'));
      }
      log.warn(
        { recipient: address.address, remote: session.remoteAddress, from: session.envelope.mailFrom || null },
        'SMTP: refused mail for an unknown recipient',
      );
      callback(refusal(550, `5.1.1 <${address.address}>: no such mailbox here`));
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        // Past the limit the bytes are only counted: the message is refused once it has ended.
        if (size <= config.smtpMaxBytes) chunks.push(chunk);
      });
      stream.on('error', (err) => log.warn({ err }, 'SMTP: the message stream failed'));
      stream.on('end', () => {
        if (stream.sizeExceeded || size > config.smtpMaxBytes) {
          return callback(refusal(552, `5.3.4 Message too big: the limit is ${config.smtpMaxBytes} bytes`));
        }
        const raw = Buffer.concat(chunks);
        const mailFrom = session.envelope.mailFrom;
        const envelope = { from: mailFrom ? mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address) };
        inbound.receive(principal, raw, envelope).then(
          (result) => {
            log.info(
              { id: result.id, outcome: result.outcome, ticket_id: result.ticket_id, message_id: result.message_id, reason: result.reason },
              'SMTP: mail received',
            );
            callback(null, `2.0.0 Ok: ${result.outcome}${result.id ? ` ${result.id}` : ''}`);
          },
          (err: unknown) => {
            if (err instanceof AppError) {
              const detail = err.message.replace(/[\r\n]+/g, ' ');
              if (err.code === 'rate_limited') return callback(refusal(451, `4.7.1 ${detail}`));
              if (err.code === 'payload_too_large') return callback(refusal(552, `5.3.4 ${detail}`));
              if (err.errors?.[0]?.pointer === '/from') return callback(refusal(550, `5.1.7 ${detail}`));
              if (err.code === 'validation_failed') return callback(refusal(550, `5.1.1 ${detail}`));
            }
            log.error({ err }, 'SMTP: could not store a received mail; the sender is told to try again');
            callback(refusal(451, '4.3.0 Temporary failure storing the message, try again later'));
          },
        );
      });
    },
  });
  server.on('error', (err) => log.error({ err }, 'SMTP listener error'));
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.server.once('error', onError);
    server.listen(config.smtpPort ?? 0, config.smtpHost, () => {
      server.server.off('error', onError);
      resolve();
    });
  });
  const { port } = server.server.address() as AddressInfo;
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
