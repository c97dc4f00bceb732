import createClient, { type Client } from 'openapi-fetch';
import type { components, operations, paths } from './openapi-types.js';
import { Paginated } from './pagination.js';
import { NexusProblemError } from './problem.js';
import { createRetryingFetch, type FetchLike, type RetryOptions } from './retry.js';

// Names for the generated types the helpers take and return; every shape comes from openapi-types.ts.
type JsonContent<T> = T extends { content: { 'application/json': infer Body } } ? Body : never;
type JsonRequest<Op> = Op extends { requestBody?: infer Body } ? JsonContent<NonNullable<Body>> : never;
type JsonResponse<Op, Status extends number> = Op extends { responses: { [S in Status]: infer Response } } ? JsonContent<Response> : never;
type QueryOf<Op> = Op extends { parameters: { query?: infer Query } } ? NonNullable<Query> : never;

export type Ticket = components['schemas']['Ticket'];
export type Message = components['schemas']['Message'];
export type AuditEntry = components['schemas']['AuditEntry'];
/** `GET /v1/tickets/{id}`: the ticket with its queue placement, messages, participants and audit trail. */
export type TicketDetail = JsonResponse<operations['getTicket'], 200>;
/** `POST /v1/tickets`: the ticket with its queue placement. */
export type CreatedTicket = JsonResponse<operations['createTicket'], 201>;
export type UpdatedTicket = JsonResponse<operations['updateTicket'], 200>;
export type TicketCreate = JsonRequest<operations['createTicket']>;
export type TicketUpdate = JsonRequest<operations['updateTicket']>;
export type MessageCreate = JsonRequest<operations['createTicketMessage']>;
/** The filters of `GET /v1/tickets`, with `after` to resume from a saved cursor. */
export type TicketListQuery = QueryOf<operations['listTickets']>;
export type MessageListQuery = QueryOf<operations['listTicketMessages']>;
export type EventListQuery = QueryOf<operations['listEvents']>;
/** An entry of the event log (`GET /v1/events`). */
export type Event = JsonResponse<operations['listEvents'], 200>['data'][number];

export interface NexusClientOptions {
  /** The server's root, without `/v1`: `https://help.example.com` or `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** An API token (`nxc_…`); sent as `Authorization: Bearer`. */
  token: string;
  /** Retries of 429 and 503 (`maxRetries: 0` turns them off). */
  retry?: RetryOptions;
  /** Another fetch (a proxy agent, a test double); default the global one. */
  fetch?: FetchLike;
  /** More headers on every request (a User-Agent naming your integration). */
  headers?: Record<string, string>;
}

export interface PostOptions {
  /** Your own `Idempotency-Key` (1-255 printable characters), to make a retry of yours safe too; default a random UUID. */
  idempotencyKey?: string;
}

/**
 * A NexusCore API client. `api` is the typed openapi-fetch client for every route (`{ data, error,
 * response }`, nothing thrown); `tickets` and `events` are helpers that page through lists and throw
 * a `NexusProblemError` when the API refuses. Both share the retries and the idempotency keys.
 */
export class NexusClient {
  readonly api: Client<paths>;
  readonly tickets: TicketsApi;
  readonly events: EventsApi;

  constructor(options: NexusClientOptions) {
    this.api = createClient<paths>({
      baseUrl: options.baseUrl,
      headers: { ...options.headers, Authorization: `Bearer ${options.token}` },
      fetch: createRetryingFetch(options.fetch ?? ((request) => fetch(request)), options.retry),
      // Multi-value filters are one comma-separated parameter (`status=open,pending`), not a repeated one.
      querySerializer: { array: { style: 'form', explode: false } },
    });
    this.tickets = new TicketsApi(this.api);
    this.events = new EventsApi(this.api);
  }
}

export class TicketsApi {
  constructor(private readonly api: Client<paths>) {}

  /** Every ticket matching `query`, newest first, fetched a page at a time as the loop reads. */
  list(query: TicketListQuery = {}): Paginated<Ticket> {
    const { after, ...filters } = query;
    return new Paginated(
      (cursor) => unwrap(this.api.GET('/v1/tickets', { params: { query: { ...filters, ...(cursor === undefined ? {} : { after: cursor }) } } })),
      after,
    );
  }

  /** The ticket with its conversation, participants and audit trail; a 404 `NexusProblemError` when absent. */
  get(ticketId: string): Promise<TicketDetail> {
    return unwrap(this.api.GET('/v1/tickets/{ticket_id}', { params: { path: { ticket_id: ticketId } } }));
  }

  create(ticket: TicketCreate, options: PostOptions = {}): Promise<CreatedTicket> {
    return unwrap(this.api.POST('/v1/tickets', { body: ticket, params: { header: idempotencyHeader(options) } }));
  }

  /** A partial update; with `ifMatch` (an ETag from a read) it applies only if nobody changed the ticket since (else a 412). */
  update(ticketId: string, changes: TicketUpdate, options: { ifMatch?: string } = {}): Promise<UpdatedTicket> {
    return unwrap(
      this.api.PATCH('/v1/tickets/{ticket_id}', {
        body: changes,
        params: { path: { ticket_id: ticketId }, header: options.ifMatch === undefined ? {} : { 'if-match': options.ifMatch } },
      }),
    );
  }

  /** Adds a message (an agent's reply, or the customer's) to the conversation. */
  reply(ticketId: string, message: MessageCreate, options: PostOptions = {}): Promise<Message> {
    return unwrap(
      this.api.POST('/v1/tickets/{ticket_id}/messages', { body: message, params: { path: { ticket_id: ticketId }, header: idempotencyHeader(options) } }),
    );
  }

  /** The conversation, oldest first, a page at a time. */
  messages(ticketId: string, query: MessageListQuery = {}): Paginated<Message> {
    const { after, ...rest } = query;
    return new Paginated(
      (cursor) =>
        unwrap(
          this.api.GET('/v1/tickets/{ticket_id}/messages', {
            params: { path: { ticket_id: ticketId }, query: { ...rest, ...(cursor === undefined ? {} : { after: cursor }) } },
          }),
        ),
      after,
    );
  }

  /** The audit trail, a page at a time. */
  audit(ticketId: string): Paginated<AuditEntry> {
    return new Paginated((cursor) =>
      unwrap(
        this.api.GET('/v1/tickets/{ticket_id}/audit', { params: { path: { ticket_id: ticketId }, query: cursor === undefined ? {} : { after: cursor } } }),
      ),
    );
  }
}

export class EventsApi {
  constructor(private readonly api: Client<paths>) {}

  /** The event log, oldest first; `after` takes a cursor or the id of the last event processed (`evt_…`). */
  list(query: EventListQuery = {}): Paginated<Event> {
    const { after, ...filters } = query;
    return new Paginated(
      (cursor) => unwrap(this.api.GET('/v1/events', { params: { query: { ...filters, ...(cursor === undefined ? {} : { after: cursor }) } } })),
      after,
    );
  }
}

const idempotencyHeader = (options: PostOptions): { 'Idempotency-Key'?: string } =>
  options.idempotencyKey === undefined ? {} : { 'Idempotency-Key': options.idempotencyKey };

/**
 * The data of a successful openapi-fetch call; anything else thrown as a NexusProblemError. For calls
 * through `client.api` that should throw too: `await unwrap(client.api.GET('/v1/brands'))`.
 */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw NexusProblemError.fromResponse(response, error);
  return data as T;
}
