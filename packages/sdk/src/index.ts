export * from './client.js';
export type { components, operations, paths, webhooks } from './openapi-types.js';
export { type Page, Paginated } from './pagination.js';
export { NexusProblemError, type Problem, type ProblemCode, type ProblemFieldError } from './problem.js';
export { createRetryingFetch, type FetchLike, type RetryOptions, retryDelayMs } from './retry.js';
export { verifyWebhook, type WebhookEvent, type WebhookHeaders, WebhookVerificationError } from './webhooks.js';
