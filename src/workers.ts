import type { Logger } from 'pino';
import type { Runtime } from './bootstrap.js';
import { purgeExpiredIdempotencyKeys } from './http/idempotency.js';
import type { BackgroundJob } from './shared/background-job.js';
import { dispatchWakeups } from './events/signal.js';
import { startWebhookDispatcher, webhookJobs } from './webhooks/dispatcher.js';
import { createMailSender } from './email/outbound.js';
import { type SmtpListener, startSmtpListener } from './email/smtp-listener.js';

/** Every background job of a runtime: what `npm start` runs beside the server and `nexus worker` alone. */
export function backgroundJobs(runtime: Runtime): BackgroundJob[] {
  return [...coreJobs(runtime), ...webhookJobs(runtime)];
}

/** The periodic jobs of a runtime: snooze wake-up and housekeeping. Feature modules add theirs. */
export function coreJobs(runtime: Runtime): BackgroundJob[] {
  return [
    { name: 'snooze-wake-up', everyMs: 15_000, run: () => runtime.services.tickets.wakeSnoozedTickets() },
    { name: 'idempotency-purge', everyMs: 3_600_000, run: () => purgeExpiredIdempotencyKeys(runtime.db, runtime.clock.now()) },
    { name: 'attachment-sweeper', everyMs: 15 * 60_000, run: () => runtime.services.attachments.sweepUnlinked() },
    // Remote embeddings: drain the vector queue (lag under a second plus the endpoint's time); built-in:
    // refine the fit as the corpus grows (one count a tick when nothing is due).
    { name: 'search-maintenance', everyMs: runtime.config.embeddings ? 500 : 10_000, run: () => runtime.services.search.maintain() },
  ];
}

/**
 * Runs each job on its interval, never overlapping with itself; a failure is logged and the job
 * tries again next tick. Returns a stop function that waits for running jobs to finish.
 */
export function startJobs(jobs: BackgroundJob[], log: Pick<Logger, 'error'>): () => Promise<void> {
  const running = new Set<Promise<unknown>>();
  const timers = jobs.map((job) => {
    let busy = false;
    const tick = () => {
      if (busy) return;
      busy = true;
      const p = job
        .run()
        .catch((err: unknown) => log.error({ err, job: job.name }, 'background job failed'))
        .finally(() => {
          busy = false;
          running.delete(p);
        });
      running.add(p);
    };
    setImmediate(tick);
    return setInterval(tick, job.everyMs);
  });
  return async () => {
    for (const t of timers) clearInterval(t);
    await Promise.allSettled([...running]);
  };
}

/**
 * Everything a process runs besides serving requests: the background jobs and the webhook
 * dispatcher (woken by LISTEN/NOTIFY on PostgreSQL), reporting deliveries to the runtime's metrics.
 * What `npm start` runs when `NEXUS_WORKERS` is on, and `nexus worker` alone. Returns a stop
 * function that waits for the dispatcher and running jobs to finish.
 */
export async function startBackgroundWork(runtime: Runtime, log: Logger): Promise<() => Promise<void>> {
  // The SMTP listener lives with the background work, so that exactly one process of a deployment
  // listens: the API process of `npm start`, the one cluster process with the jobs, or `nexus worker`.
  let smtp: SmtpListener | undefined;
  if (runtime.config.email.smtpPort !== undefined) {
    smtp = await startSmtpListener({ config: runtime.config.email, inbound: runtime.services.email.inbound, brands: runtime.services.brands, log });
    log.info({ host: runtime.config.email.smtpHost, port: smtp.port }, "SMTP listener accepting mail for the brands' addresses");
  }
  const stopMail = startMailSender(runtime, log);
  const stopJobs = startJobs(backgroundJobs(runtime), log);
  const dispatcher = startWebhookDispatcher({
    db: runtime.db,
    clock: runtime.clock,
    secretBox: runtime.secretBox,
    config: runtime.config,
    log,
    observer: runtime.metrics?.deliveries,
    wakeups: dispatchWakeups({ dialect: runtime.dialect, databaseUrl: runtime.config.databaseUrl, log }),
  });
  return async () => {
    await smtp?.close();
    await stopMail();
    await dispatcher.stop();
    await stopJobs();
  };
}

/** The outbox sender of replies by e-mail (src/email/outbound.ts); nothing without NEXUS_MAIL_RELAY_URL. */
export function startMailSender(runtime: Runtime, log: Logger): () => Promise<void> {
  const sender = createMailSender({
    db: runtime.db,
    clock: runtime.clock,
    config: runtime.config,
    brands: runtime.services.brands,
    attachments: runtime.services.attachments,
    messageAttachments: runtime.services.attachments.forMessages,
    replyTokens: runtime.services.email.replyTokens,
    log,
  });
  return sender.start();
}
