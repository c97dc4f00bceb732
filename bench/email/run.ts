/**
 * E-mail benchmark, everything in this one process over 127.0.0.1 and a real SQLite file:
 *
 * - inbound: mails per second sent with nodemailer (a pool of SMTP connections) to our listener and
 *   stored as tickets, against the plain API create (POST /v1/tickets over HTTP, same concurrency)
 *   measured in the same run;
 * - outbound: agent replies per second queued through the API and sent by our outbox sender to a
 *   local relay (smtp-server), against a plain nodemailer send of the same mail to the same relay.
 *
 *   npm run bench:email                  # defaults
 *   BENCH_MAILS=2000 BENCH_CONCURRENCY=8 npm run bench:email
 */
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import nodemailer from 'nodemailer';
import pino from 'pino';
import { SMTPServer } from 'smtp-server';
import { buildApp } from '../../src/app.js';
import { openRuntime } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import { createMailSender } from '../../src/email/outbound.js';
import { startSmtpListener } from '../../src/email/smtp-listener.js';

const MAILS = Number(process.env.BENCH_MAILS ?? 500);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const log = pino({ level: 'silent' });

/** Runs `task(i)` for i < n with `concurrency` in flight; returns the seconds it took. */
async function timed(n: number, concurrency: number, task: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await task(next++);
    }),
  );
  return (performance.now() - start) / 1000;
}

async function main(): Promise<void> {
  // A relay that accepts and discards.
  let relayed = 0;
  const relay = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      stream.on('data', () => {});
      stream.on('end', () => {
        relayed++;
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const relayPort = (relay.server.address() as AddressInfo).port;

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-bench-email-'));
  const config = loadConfig({
    NEXUS_DATA_DIR: dataDir,
    NEXUS_LOG_LEVEL: 'silent',
    NEXUS_RATE_LIMIT: 'off',
    NEXUS_MAIL_SENDER_LIMIT: String(MAILS * 10),
    NEXUS_MAIL_RELAY_URL: `smtp://127.0.0.1:${relayPort}?pool=true&maxConnections=${CONCURRENCY}`,
  });
  const runtime = await openRuntime(config);
  const app = await buildApp({ db: runtime.db, clock: runtime.clock, config, services: runtime.services, secretBox: runtime.secretBox });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const api = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const admin = (await runtime.services.tokens.create({ name: 'bench', scopes: ['admin'] })).token;
  const brand = await runtime.services.brands.create({ name: 'Bench', email_addresses: ['support@bench.test'] });
  const listener = await startSmtpListener({
    config: { ...config.email, smtpPort: 0 },
    inbound: runtime.services.email.inbound,
    brands: runtime.services.brands,
    log,
  });
  const headers = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' };
  const body = 'My order 10021 arrived damaged; the mug is broken and the box was crushed. Please send a new one.';

  // Warm-up: both paths once.
  const customer = nodemailer.createTransport({
    host: '127.0.0.1',
    port: listener.port,
    ignoreTLS: true,
    pool: true,
    maxConnections: CONCURRENCY,
    maxMessages: Infinity,
  });
  await customer.sendMail({ from: 'warm@example.net', to: 'support@bench.test', subject: 'warm', text: body });
  await fetch(`${api}/v1/tickets`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ brand_id: brand.id, subject: 'warm', description: body, customer: { email: 'w@example.net' } }),
  });

  const apiSeconds = await timed(MAILS, CONCURRENCY, async (i) => {
    const res = await fetch(`${api}/v1/tickets`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ brand_id: brand.id, subject: `API ${i}`, description: body, customer: { email: `api${i}@example.net`, name: 'API Customer' } }),
    });
    if (res.status !== 201) throw new Error(`create: ${res.status}`);
    await res.arrayBuffer();
  });
  const smtpSeconds = await timed(MAILS, CONCURRENCY, async (i) => {
    const info = await customer.sendMail({ from: `Mail Customer <mail${i}@example.net>`, to: 'support@bench.test', subject: `Mail ${i}`, text: body });
    if (!info.response.startsWith('250')) throw new Error(info.response);
  });
  customer.close();

  // Outbound: replies queued through the API, sent by the outbox sender, vs plain nodemailer.
  const tickets = (await runtime.db.selectFrom('tickets').select('id').where('origin', '=', 'email').limit(MAILS).execute()).map((r) => r.id);
  const sender = createMailSender({
    db: runtime.db,
    clock: runtime.clock,
    config,
    brands: runtime.services.brands,
    attachments: runtime.services.attachments,
    messageAttachments: runtime.services.attachments.forMessages,
    replyTokens: runtime.services.email.replyTokens,
    log,
  });
  await timed(tickets.length, CONCURRENCY, async (i) => {
    const res = await fetch(`${api}/v1/tickets/${tickets[i]}/messages`, { method: 'POST', headers, body: JSON.stringify({ author_type: 'agent', body }) });
    if (res.status !== 201) throw new Error(`reply: ${res.status}`);
    await res.arrayBuffer();
  });
  const relayedBefore = relayed;
  const sendStart = performance.now();
  await sender.drain();
  const outboxSeconds = (performance.now() - sendStart) / 1000;
  const sentByOutbox = relayed - relayedBefore;
  const plain = nodemailer.createTransport({
    host: '127.0.0.1',
    port: relayPort,
    ignoreTLS: true,
    pool: true,
    maxConnections: CONCURRENCY,
    maxMessages: Infinity,
  });
  const plainSeconds = await timed(tickets.length, CONCURRENCY, (i) =>
    plain.sendMail({ from: 'Bench <support@bench.test>', to: `mail${i}@example.net`, subject: `Re: Mail ${i}`, text: body }),
  );
  plain.close();

  const rate = (n: number, s: number) => n / s;
  const apiRate = rate(MAILS, apiSeconds);
  const smtpRate = rate(MAILS, smtpSeconds);
  const outRate = rate(sentByOutbox, outboxSeconds);
  const plainRate = rate(tickets.length, plainSeconds);
  console.log(`mails: ${MAILS}, concurrency: ${CONCURRENCY}, SQLite, ${os.cpus().length} cores`);
  console.log(`inbound  SMTP → stored ticket : ${smtpRate.toFixed(0)} mails/s`);
  console.log(`baseline POST /v1/tickets     : ${apiRate.toFixed(0)} tickets/s`);
  console.log(`ratio inbound ÷ API create    : ${(smtpRate / apiRate).toFixed(2)}`);
  console.log(`outbound outbox → relay       : ${outRate.toFixed(0)} sends/s (${sentByOutbox} sent)`);
  console.log(`baseline plain nodemailer send: ${plainRate.toFixed(0)} sends/s`);
  console.log(`ratio outbox ÷ plain send     : ${(outRate / plainRate).toFixed(2)}`);

  await listener.close();
  await app.close();
  await runtime.close();
  await new Promise<void>((resolve) => relay.close(() => resolve()));
  fs.rmSync(dataDir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
