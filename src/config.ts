import os from 'node:os';
import path from 'node:path';
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import type { HttpTimeouts } from './http/timeouts.js';

// Rate-limit windows are whole seconds: the RateLimit-Policy header's `w` has no sub-second form.
const WINDOW = '^[1-9]\\d*(s|m|h)$';

/**
 * Every environment variable NexusCore reads. The server, the workers and the CLI read them only
 * here (loadConfig) and receive a validated Config. The one other reader in src/ is the install-time
 * step src/search/embedding/build-cache.ts (run by npm ci), which takes NEXUS_EMBEDDINGS_CACHE_DIR
 * alone, so that it builds the vector cache where the server will look for it.
 */
const EnvSchema = Type.Object({
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  NEXUS_DATA_DIR: Type.String({ minLength: 1, default: './data' }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^(postgres(ql)?://|sqlite:)' })),
  NEXUS_PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' })),
  NEXUS_ADMIN_TOKEN: Type.Optional(Type.String({ minLength: 32 })),
  NEXUS_SECRET_KEY: Type.Optional(Type.String({ minLength: 32 })),
  NEXUS_LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  NEXUS_WEBHOOK_ALLOW_PRIVATE: Type.Union([Type.Literal('0'), Type.Literal('1')], { default: '0' }),
  NEXUS_WEBHOOK_RETRY_SCHEDULE: Type.Optional(Type.String({ pattern: '^\\d+(ms|s|m|h)?(,\\d+(ms|s|m|h)?)*$' })),
  NEXUS_ATTACHMENT_MAX_BYTES: Type.Integer({ minimum: 1, default: 25 * 1024 * 1024 }),
  NEXUS_BLOB_URL: Type.Optional(Type.String({ minLength: 1 })),
  NEXUS_S3_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://[^\\s/]+(/[^\\s]*)?$' })),
  NEXUS_S3_REGION: Type.Optional(Type.String({ pattern: '^[a-z0-9-]+$' })),
  NEXUS_S3_FORCE_PATH_STYLE: Type.Union([Type.Literal('0'), Type.Literal('1')], { default: '0' }),
  NEXUS_EMBEDDINGS_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  NEXUS_EMBEDDINGS_MODEL: Type.Optional(Type.String({ minLength: 1 })),
  NEXUS_EMBEDDINGS_API_KEY: Type.Optional(Type.String({ minLength: 1 })),
  NEXUS_EMBEDDINGS_CACHE_DIR: Type.Optional(Type.String({ minLength: 1 })),
  NEXUS_WORKERS: Type.Union([Type.Literal('0'), Type.Literal('1')], { default: '1' }),
  NEXUS_PROCESSES: Type.String({ pattern: '^(auto|[1-9]\\d{0,2})$', default: '1' }),
  NEXUS_PG_POOL: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  NEXUS_HTTP_HEADERS_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 300_000, default: 10_000 }),
  NEXUS_HTTP_REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 30_000 }),
  NEXUS_HTTP_IDLE_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 72_000 }),
  NEXUS_HTTP_UPLOAD_MIN_BYTES_PER_SECOND: Type.Integer({ minimum: 1, default: 4096 }),
  NEXUS_TRUST_PROXY: Type.Optional(Type.String({ pattern: '^[0-9A-Fa-f.:/]+(,[0-9A-Fa-f.:/]+)*$' })),
  NEXUS_RATE_LIMIT: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'on' }),
  NEXUS_RATE_LIMIT_PER_TOKEN: Type.Integer({ minimum: 1, default: 1000 }),
  NEXUS_RATE_LIMIT_TOKEN_WINDOW: Type.String({ pattern: WINDOW, default: '10s' }),
  NEXUS_RATE_LIMIT_PER_ADDRESS: Type.Integer({ minimum: 1, default: 300 }),
  NEXUS_RATE_LIMIT_ADDRESS_WINDOW: Type.String({ pattern: WINDOW, default: '10s' }),
  NEXUS_RATE_LIMIT_AUTH_FAILURES: Type.Integer({ minimum: 1, default: 20 }),
  NEXUS_RATE_LIMIT_AUTH_FAILURES_WINDOW: Type.String({ pattern: WINDOW, default: '1m' }),
  NEXUS_RATE_LIMIT_SYNC_INTERVAL: Type.String({ pattern: '^[1-9]\\d*(ms|s|m|h)?$', default: '500ms' }),
  NEXUS_METRICS_TOKEN: Type.Optional(Type.String({ minLength: 32 })),
  NEXUS_METRICS_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  NEXUS_METRICS_HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  NEXUS_SMTP_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  NEXUS_SMTP_HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  NEXUS_SMTP_TLS_CERT: Type.Optional(Type.String({ minLength: 1 })),
  NEXUS_SMTP_TLS_KEY: Type.Optional(Type.String({ minLength: 1 })),
  NEXUS_SMTP_MAX_BYTES: Type.Integer({ minimum: 1024, default: 35 * 1024 * 1024 }),
  NEXUS_MAIL_SENDER_LIMIT: Type.Integer({ minimum: 1, default: 30 }),
  NEXUS_MAIL_RELAY_URL: Type.Optional(Type.String({ pattern: '^smtps?://[^\\s]+$' })),
  NEXUS_MAIL_FROM_NAME: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  NEXUS_MAIL_RETRY_SCHEDULE: Type.String({ pattern: '^\\d+(ms|s|m|h)?(,\\d+(ms|s|m|h)?)*$', default: '1m,5m,30m,2h,6h,12h' }),
});

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /** Undefined means the embedded SQLite file `<dataDir>/nexus.sqlite`. */
  databaseUrl: string | undefined;
  publicUrl: string;
  adminToken: string | undefined;
  /** Encrypts secrets at rest (webhook secrets); unset means a key file in the data dir. */
  secretKey: string | undefined;
  logLevel: string;
  webhookAllowPrivate: boolean;
  /** Delays between webhook delivery attempts, in milliseconds. */
  webhookRetryScheduleMs: number[];
  attachmentMaxBytes: number;
  /** Where attachment bytes live (NEXUS_BLOB_URL). */
  blobStore: BlobStoreConfig;
  embeddings: { url: string; model: string; apiKey: string | undefined } | undefined;
  /** Where the built-in embedder's vector cache lives; undefined means `.cache/embeddings` in the install. */
  embeddingsCacheDir: string | undefined;
  /** Whether `npm start` runs the background jobs (webhook dispatcher, snooze wake-up, sweepers). */
  runWorkers: boolean;
  /** API processes `npm start` / `nexus serve` runs on the one port (src/cluster.ts); 1 serves in this process. */
  processes: number;
  /** Connections each process keeps at most to PostgreSQL (ignored on SQLite). */
  pgPoolSize: number;
  /** How long a client may take to send a request (src/http/timeouts.ts). */
  http: HttpTimeouts;
  /** Proxies (addresses or CIDRs) whose X-Forwarded-For names the client; undefined trusts none. */
  trustProxy: string | undefined;
  rateLimit: RateLimitConfig;
  metrics: MetricsConfig;
  email: EmailConfig;
}

/** E-mail in and out (docs/email.md). */
export interface EmailConfig {
  /** The SMTP listener's port (NEXUS_SMTP_PORT); undefined: no listener. */
  smtpPort: number | undefined;
  smtpHost: string;
  /** PEM files for STARTTLS; both or neither. */
  tls: { certFile: string; keyFile: string } | undefined;
  /** Largest message taken, by SMTP (SIZE) or HTTP. */
  smtpMaxBytes: number;
  /** Mails one sender may turn into tickets or messages per hour. */
  senderLimitPerHour: number;
  /** smtp(s)://user:pass@host:port of the relay replies go through; undefined: outbound mail off. */
  relayUrl: string | undefined;
  /** The display name of the From of replies; undefined: the brand's name. */
  fromName: string | undefined;
  /** Delays between attempts to send a reply. */
  retryScheduleMs: number[];
}

/** Where `GET /metrics` is served (docs/operations.md, "What to watch"). */
export interface MetricsConfig {
  /** With it, /metrics is also served on the API's listener, to this bearer token only. */
  token: string | undefined;
  /** A listener of its own for /metrics (no token unless `token` is set too); undefined: none. */
  port: number | undefined;
  host: string;
}

/** Whether any process should collect metrics: only when something can read them. */
export const metricsEnabled = (config: Pick<Config, 'metrics'>): boolean => config.metrics.token !== undefined || config.metrics.port !== undefined;

export interface RateLimitPolicyConfig {
  limit: number;
  windowMs: number;
}

/** See docs/api.md, "Rate limits". */
export interface RateLimitConfig {
  enabled: boolean;
  /** Requests authenticated by one token. */
  perToken: RateLimitPolicyConfig;
  /** Requests from one client address that no token authenticated (public routes, signed URLs, failed auth). */
  perAddress: RateLimitPolicyConfig;
  /** Failed credential checks (401, forged or expired signed URLs) from one client address. */
  authFailures: RateLimitPolicyConfig;
  /** How often each process merges its counts with the other processes' through the database. */
  syncIntervalMs: number;
}

/**
 * `disk`: files under `root` (the default, `<dataDir>/attachments`). `s3`: objects `<prefix><key>` in
 * one bucket of any S3-compatible store; credentials come from the AWS SDK's own chain
 * (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, an instance role), never from here.
 */
export type BlobStoreConfig =
  | { kind: 'disk'; root: string }
  | {
      kind: 's3';
      bucket: string;
      /** Empty, or ends with `/`. */
      prefix: string;
      /** Undefined means AWS S3 itself, at the region's endpoint. */
      endpoint: string | undefined;
      /** Undefined leaves the region to the SDK's chain (AWS_REGION, the profile). */
      region: string | undefined;
      forcePathStyle: boolean;
    };

export class ConfigError extends Error {}

const DEFAULT_RETRY_SCHEDULE = '5s,5m,30m,2h,5h,10h,10h';

export function parseDuration(text: string): number {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new ConfigError(`invalid duration "${text}"`);
  const n = Number(match[1]);
  const unit = match[2] ?? 'ms';
  return n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!;
}

// S3's rules for new bucket names: 3-63 lower-case letters, digits, dots and hyphens, a letter or digit at each end.
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function blobStoreConfig(e: Static<typeof EnvSchema>, dataDir: string): BlobStoreConfig {
  const url = e.NEXUS_BLOB_URL;
  const bad = (why: string) => new ConfigError(`Invalid environment variable NEXUS_BLOB_URL: ${why} (expected file://<dir> or s3://<bucket>/<prefix>)`);
  if (url === undefined) return { kind: 'disk', root: path.join(dataDir, 'attachments') };
  if (url.startsWith('file://')) {
    // Taken as written rather than through URL(), so that file://./blobs and file://blobs stay relative paths.
    const dir = url.slice('file://'.length);
    if (!dir) throw bad('file:// needs a folder');
    return { kind: 'disk', root: path.resolve(dir) };
  }
  const match = /^s3:\/\/([^/]*)(?:\/(.*))?$/.exec(url);
  if (!match) throw bad('unknown scheme');
  const bucket = match[1]!;
  // Refused without echoing it: the part before @ would be a secret.
  if (bucket.includes('@')) throw bad('credentials do not belong in the URL; the AWS SDK reads them from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
  if (!BUCKET.test(bucket) || bucket.includes('..')) throw bad(`"${bucket}" is not a valid bucket name`);
  const prefix = (match[2] ?? '').replace(/\/+$/, '');
  if (prefix !== '' && prefix.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw bad(`"${prefix}" is not a usable key prefix`);
  }
  return {
    kind: 's3',
    bucket,
    prefix: prefix ? `${prefix}/` : '',
    endpoint: e.NEXUS_S3_ENDPOINT?.replace(/\/+$/, ''),
    // A store of one's own (MinIO, Ceph, ...) ignores the region or wants us-east-1; AWS itself finds it through the SDK.
    region: e.NEXUS_S3_REGION ?? (e.NEXUS_S3_ENDPOINT ? 'us-east-1' : undefined),
    forcePathStyle: e.NEXUS_S3_FORCE_PATH_STYLE === '1',
  };
}

function emailConfig(e: Static<typeof EnvSchema>): EmailConfig {
  if ((e.NEXUS_SMTP_TLS_CERT === undefined) !== (e.NEXUS_SMTP_TLS_KEY === undefined)) {
    throw new ConfigError('Invalid environment variable NEXUS_SMTP_TLS_KEY: NEXUS_SMTP_TLS_CERT and NEXUS_SMTP_TLS_KEY go together');
  }
  if (e.NEXUS_MAIL_RELAY_URL !== undefined) {
    try {
      new URL(e.NEXUS_MAIL_RELAY_URL);
    } catch {
      // Not echoed: it may carry the relay's password.
      throw new ConfigError('Invalid environment variable NEXUS_MAIL_RELAY_URL: not a URL (expected smtp://user:pass@host:587 or smtps://…)');
    }
  }
  return {
    smtpPort: e.NEXUS_SMTP_PORT,
    smtpHost: e.NEXUS_SMTP_HOST,
    tls:
      e.NEXUS_SMTP_TLS_CERT && e.NEXUS_SMTP_TLS_KEY
        ? { certFile: path.resolve(e.NEXUS_SMTP_TLS_CERT), keyFile: path.resolve(e.NEXUS_SMTP_TLS_KEY) }
        : undefined,
    smtpMaxBytes: e.NEXUS_SMTP_MAX_BYTES,
    senderLimitPerHour: e.NEXUS_MAIL_SENDER_LIMIT,
    relayUrl: e.NEXUS_MAIL_RELAY_URL,
    fromName: e.NEXUS_MAIL_FROM_NAME,
    retryScheduleMs: e.NEXUS_MAIL_RETRY_SCHEDULE.split(',').map(parseDuration),
  };
}

/** Validates the environment and returns the config, or throws a ConfigError naming the bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = env[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const converted = Value.Default(EnvSchema, Value.Convert(EnvSchema, raw)) as Record<string, unknown>;
  const firstError = [...Value.Errors(EnvSchema, converted)][0];
  if (firstError) {
    const pointer = (firstError as { instancePath?: string }).instancePath ?? '';
    const name = pointer.replace(/^\//, '') || 'environment';
    throw new ConfigError(`Invalid environment variable ${name}: ${firstError.message}`);
  }
  const e = converted as Static<typeof EnvSchema>;
  if ((e.NEXUS_EMBEDDINGS_URL === undefined) !== (e.NEXUS_EMBEDDINGS_MODEL === undefined)) {
    throw new ConfigError('Invalid environment variable NEXUS_EMBEDDINGS_MODEL: NEXUS_EMBEDDINGS_URL and NEXUS_EMBEDDINGS_MODEL go together');
  }
  const dataDir = path.resolve(e.NEXUS_DATA_DIR);
  const blobStore = blobStoreConfig(e, dataDir);
  const publicHost = e.HOST === '0.0.0.0' || e.HOST === '::' ? '127.0.0.1' : e.HOST;
  const publicUrl = (e.NEXUS_PUBLIC_URL ?? `http://${publicHost.includes(':') ? `[${publicHost}]` : publicHost}:${e.PORT}`).replace(/\/+$/, '');
  return {
    host: e.HOST,
    port: e.PORT,
    dataDir,
    databaseUrl: e.DATABASE_URL,
    publicUrl,
    adminToken: e.NEXUS_ADMIN_TOKEN,
    secretKey: e.NEXUS_SECRET_KEY,
    logLevel: e.NEXUS_LOG_LEVEL,
    webhookAllowPrivate: e.NEXUS_WEBHOOK_ALLOW_PRIVATE === '1',
    webhookRetryScheduleMs: (e.NEXUS_WEBHOOK_RETRY_SCHEDULE ?? DEFAULT_RETRY_SCHEDULE).split(',').map(parseDuration),
    attachmentMaxBytes: e.NEXUS_ATTACHMENT_MAX_BYTES,
    blobStore,
    embeddings: e.NEXUS_EMBEDDINGS_URL ? { url: e.NEXUS_EMBEDDINGS_URL, model: e.NEXUS_EMBEDDINGS_MODEL!, apiKey: e.NEXUS_EMBEDDINGS_API_KEY } : undefined,
    embeddingsCacheDir: e.NEXUS_EMBEDDINGS_CACHE_DIR ? path.resolve(e.NEXUS_EMBEDDINGS_CACHE_DIR) : undefined,
    runWorkers: e.NEXUS_WORKERS === '1',
    processes: e.NEXUS_PROCESSES === 'auto' ? os.availableParallelism() : Number(e.NEXUS_PROCESSES),
    pgPoolSize: e.NEXUS_PG_POOL,
    http: {
      headersTimeoutMs: e.NEXUS_HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.NEXUS_HTTP_REQUEST_TIMEOUT_MS,
      idleTimeoutMs: e.NEXUS_HTTP_IDLE_TIMEOUT_MS,
      uploadMinBytesPerSecond: e.NEXUS_HTTP_UPLOAD_MIN_BYTES_PER_SECOND,
    },
    trustProxy: e.NEXUS_TRUST_PROXY,
    rateLimit: {
      enabled: e.NEXUS_RATE_LIMIT === 'on',
      perToken: { limit: e.NEXUS_RATE_LIMIT_PER_TOKEN, windowMs: parseDuration(e.NEXUS_RATE_LIMIT_TOKEN_WINDOW) },
      perAddress: { limit: e.NEXUS_RATE_LIMIT_PER_ADDRESS, windowMs: parseDuration(e.NEXUS_RATE_LIMIT_ADDRESS_WINDOW) },
      authFailures: { limit: e.NEXUS_RATE_LIMIT_AUTH_FAILURES, windowMs: parseDuration(e.NEXUS_RATE_LIMIT_AUTH_FAILURES_WINDOW) },
      syncIntervalMs: parseDuration(e.NEXUS_RATE_LIMIT_SYNC_INTERVAL),
    },
    metrics: { token: e.NEXUS_METRICS_TOKEN, port: e.NEXUS_METRICS_PORT, host: e.NEXUS_METRICS_HOST },
    email: emailConfig(e),
  };
}
