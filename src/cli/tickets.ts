/*
 * `nexus tickets list|show|create|reply`: the CLI for people working tickets. Unlike the other
 * commands, which open the database and call services, these talk to a running server over HTTP,
 * through the SDK (packages/sdk), as any integration would: they work against a remote deployment,
 * with a token's scopes and brand restrictions, and need no access to the data dir.
 */
import { parseArgs } from 'node:util';
import { type Message, NexusClient, type Ticket, type TicketCreate, type TicketDetail, type TicketListQuery } from '../../packages/sdk/src/client.js';
import { NexusProblemError } from '../../packages/sdk/src/problem.js';

/** The lines `nexus --help` shows for these commands. */
export const TICKETS_USAGE = `  tickets list [--brand B] [--status S] [--priority P] [--tag T] [--assigned-to E] [--customer-email E]
               [--created-after T] [--created-before T] [--limit N] [--all] [--json]
                                      tickets newest first, a table (25 unless --limit N or --all); --json: one JSON object a line
  tickets show <ticket_id> [--json]   a ticket with its conversation
  tickets create --brand B --subject S --customer-email E [--customer-name N] [--description D]
                 [--priority P] [--tags T[,T]] [--assign E] [--json]
  tickets reply <ticket_id> --body TEXT [--customer] [--author-email E] [--author-name N] [--json]
                                      add an agent's reply (or, with --customer, a customer message)`;

/** Where the tickets commands send their requests; the last line of `nexus --help` and `nexus tickets --help`. */
export const TICKETS_ENVIRONMENT = `The tickets commands talk to a running server over HTTP: NEXUS_URL (default http://127.0.0.1:8080)
and NEXUS_TOKEN (an API token; on a fresh install the admin token in data/admin-token).`;

const DEFAULT_URL = 'http://127.0.0.1:8080';

type Out = (line: string) => void;

/** A mistake in how the command was called: the caller prints it with the command's usage and exits 2. */
export class TicketsUsageError extends Error {}

/** The server the tickets commands talk to, from NEXUS_URL and NEXUS_TOKEN. */
export function clientFromEnv(env: Record<string, string | undefined>): { client: NexusClient; baseUrl: string } {
  const baseUrl = (env.NEXUS_URL || DEFAULT_URL).replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new TicketsUsageError(`NEXUS_URL must be an http(s) URL such as ${DEFAULT_URL}, not ${JSON.stringify(baseUrl)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TicketsUsageError(`NEXUS_URL must be an http(s) URL such as ${DEFAULT_URL}, not ${JSON.stringify(baseUrl)}`);
  const token = env.NEXUS_TOKEN?.trim();
  if (!token) throw new TicketsUsageError('set NEXUS_TOKEN to an API token (on a fresh install: export NEXUS_TOKEN=$(cat data/admin-token))');
  return { client: new NexusClient({ baseUrl, token, headers: { 'User-Agent': 'nexus-cli' } }), baseUrl };
}

/**
 * Runs `nexus tickets <action> …` (`args` starts at the action); returns the exit code: 0, 1 when the
 * API refused or could not be reached, 2 for a usage mistake. parseArgs errors are thrown, for the
 * dispatcher to print with the usage line.
 */
export async function runTicketsCommand(args: string[], env: Record<string, string | undefined>, out: Out, err: Out): Promise<number> {
  const [action, ...rest] = args;
  if (action === undefined || action === '--help' || action === '-h' || action === 'help') {
    (action === undefined ? err : out)(`Usage: nexus tickets <list, show, create or reply> …\n\n${TICKETS_USAGE}\n\n${TICKETS_ENVIRONMENT}`);
    return action === undefined ? 2 : 0;
  }
  const command = COMMANDS[action];
  if (!command) {
    err(`nexus: unknown command "tickets ${action}"`);
    err(`\n${TICKETS_USAGE}`);
    return 2;
  }
  let baseUrl = env.NEXUS_URL || DEFAULT_URL;
  try {
    const parsed = command.parse(rest);
    const connection = clientFromEnv(env);
    baseUrl = connection.baseUrl;
    await command.run(connection.client, parsed, out);
    return 0;
  } catch (e) {
    if (e instanceof TicketsUsageError) {
      err(e.message);
      return 2;
    }
    if (e instanceof NexusProblemError) {
      err(`error: ${e.message}`);
      for (const fieldError of e.errors) err(`  ${fieldError.pointer}: ${fieldError.message}`);
      return 1;
    }
    const cause = e instanceof TypeError ? (e.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
    if (e instanceof TypeError && cause !== undefined) {
      // fetch failed: refused, unknown host, reset. Node puts the reason in `cause`.
      err(`error: cannot reach ${baseUrl} (NEXUS_URL): ${String(cause.code ?? cause.message ?? e.message)}`);
      return 1;
    }
    throw e;
  }
}

interface Command<Parsed> {
  parse(args: string[]): Parsed;
  run(client: NexusClient, parsed: Parsed, out: Out): Promise<void>;
}

const command = <Parsed>(c: Command<Parsed>): Command<unknown> => c as Command<unknown>;

const COMMANDS: Record<string, Command<unknown>> = {
  list: command({
    parse(args) {
      const { values } = parseArgs({
        args,
        options: {
          brand: { type: 'string' },
          status: { type: 'string' },
          priority: { type: 'string' },
          tag: { type: 'string' },
          'assigned-to': { type: 'string' },
          'customer-email': { type: 'string' },
          'created-after': { type: 'string' },
          'created-before': { type: 'string' },
          limit: { type: 'string' },
          all: { type: 'boolean' },
          json: { type: 'boolean' },
        },
      });
      if (values.limit !== undefined && !/^[1-9]\d{0,6}$/.test(values.limit)) throw new TicketsUsageError('--limit takes a number of tickets (1 or more)');
      if (values.limit !== undefined && values.all) throw new TicketsUsageError('--limit and --all do not go together');
      const max = values.all ? Number.POSITIVE_INFINITY : Number(values.limit ?? 25);
      const filters: Record<string, string | number> = { limit: Math.min(max, 100) };
      const named: [string, string | undefined][] = [
        ['brand_id', values.brand],
        ['status', values.status],
        ['priority', values.priority],
        ['tag', values.tag],
        ['assigned_to', values['assigned-to']],
        ['customer_email', values['customer-email']],
        ['created_after', values['created-after']],
        ['created_before', values['created-before']],
      ];
      for (const [name, value] of named) if (value !== undefined) filters[name] = value;
      // The values go to the server as typed: it checks each one (a 400 naming the parameter), so the
      // CLI needs no copy of the rules, and a filter the server learns is a flag away.
      return { query: filters as unknown as TicketListQuery, max, json: values.json === true };
    },
    async run(client, { query, max, json }: { query: TicketListQuery; max: number; json: boolean }, out) {
      const tickets = await client.tickets.list(query).toArray(max);
      if (json) {
        for (const ticket of tickets) out(JSON.stringify(ticket));
        return;
      }
      if (tickets.length === 0) {
        out('no tickets');
        return;
      }
      for (const line of ticketTable(tickets)) out(line);
    },
  }),

  show: command({
    parse(args) {
      const { values, positionals } = parseArgs({ args, options: { json: { type: 'boolean' } }, allowPositionals: true });
      if (positionals.length !== 1) throw new TicketsUsageError('tickets show needs one ticket id (tick_…)');
      return { id: positionals[0]!, json: values.json === true };
    },
    async run(client, { id, json }: { id: string; json: boolean }, out) {
      const ticket = await client.tickets.get(id);
      if (json) out(JSON.stringify(ticket, null, 2));
      else for (const line of ticketDetail(ticket)) out(line);
    },
  }),

  create: command({
    parse(args) {
      const { values } = parseArgs({
        args,
        options: {
          brand: { type: 'string' },
          subject: { type: 'string' },
          description: { type: 'string' },
          'customer-email': { type: 'string' },
          'customer-name': { type: 'string' },
          priority: { type: 'string' },
          tags: { type: 'string' },
          assign: { type: 'string' },
          json: { type: 'boolean' },
        },
      });
      if (!values.brand || !values.subject || !values['customer-email'])
        throw new TicketsUsageError('tickets create needs --brand, --subject and --customer-email');
      const ticket: Record<string, unknown> = {
        brand_id: values.brand,
        subject: values.subject,
        customer: { email: values['customer-email'], ...(values['customer-name'] === undefined ? {} : { name: values['customer-name'] }) },
      };
      if (values.description !== undefined) ticket.description = values.description;
      if (values.priority !== undefined) ticket.priority = values.priority;
      if (values.tags !== undefined) ticket.tags = values.tags.split(',').map((t) => t.trim());
      if (values.assign !== undefined) ticket.assigned_to = values.assign;
      // As for list: the server validates the values (a 422 naming each bad field).
      return { ticket: ticket as TicketCreate, json: values.json === true };
    },
    async run(client, { ticket, json }: { ticket: TicketCreate; json: boolean }, out) {
      const created = await client.tickets.create(ticket);
      if (json) out(JSON.stringify(created, null, 2));
      else
        out(
          `created ${created.id} in queue ${created.queue.name}${created.queue.position === null ? '' : ` (position ${created.queue.position})`}: ${created.subject}`,
        );
    },
  }),

  reply: command({
    parse(args) {
      const { values, positionals } = parseArgs({
        args,
        options: {
          body: { type: 'string' },
          customer: { type: 'boolean' },
          'author-email': { type: 'string' },
          'author-name': { type: 'string' },
          json: { type: 'boolean' },
        },
        allowPositionals: true,
      });
      if (positionals.length !== 1 || values.body === undefined) throw new TicketsUsageError('tickets reply needs one ticket id (tick_…) and --body');
      const author =
        values['author-email'] === undefined && values['author-name'] === undefined
          ? {}
          : {
              author: {
                ...(values['author-email'] === undefined ? {} : { email: values['author-email'] }),
                ...(values['author-name'] === undefined ? {} : { name: values['author-name'] }),
              },
            };
      return {
        id: positionals[0]!,
        message: { author_type: values.customer ? ('customer' as const) : ('agent' as const), body: values.body, ...author },
        json: values.json === true,
      };
    },
    async run(client, { id, message, json }: { id: string; message: Parameters<NexusClient['tickets']['reply']>[1]; json: boolean }, out) {
      const created = await client.tickets.reply(id, message);
      if (json) out(JSON.stringify(created, null, 2));
      else out(`added ${created.author_type} message ${created.id} to ${created.ticket_id}`);
    },
  }),
};

/** Cuts `text` to `width` characters (code points), marking the cut with an ellipsis; line breaks become spaces. */
function cell(text: string, width: number): string {
  const chars = [...text.replace(/\s+/g, ' ')];
  return chars.length <= width ? chars.join('') : `${chars.slice(0, width - 1).join('')}…`;
}

/** The list as an aligned table: one header line, then a line per ticket. */
export function ticketTable(tickets: Ticket[]): string[] {
  const rows = [
    ['ID', 'STATUS', 'PRIORITY', 'ASSIGNEE', 'UPDATED', 'SUBJECT'],
    ...tickets.map((t) => [t.id, t.status, t.priority, cell(t.assigned_to ?? '-', 30), t.updated_at, cell(t.subject, 60)]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => [...row[column]!].length)));
  return rows.map((row) =>
    row
      .map((value, column) => (column === row.length - 1 ? value : value + ' '.repeat(widths[column]! - [...value].length)))
      .join('  ')
      .trimEnd(),
  );
}

function ticketDetail(ticket: TicketDetail): string[] {
  const customer = ticket.customer.name ? `${ticket.customer.name} <${ticket.customer.email}>` : ticket.customer.email;
  const lines = [
    `${ticket.id}  ${ticket.subject}`,
    `status    ${ticket.status}${ticket.snoozed_until ? ` until ${ticket.snoozed_until}` : ''}`,
    `priority  ${ticket.priority}`,
    `brand     ${ticket.brand_id}`,
    `queue     ${ticket.queue.name}${ticket.queue.position === null ? '' : ` (position ${ticket.queue.position})`}`,
    `customer  ${customer}`,
    `assignee  ${ticket.assigned_to ?? '-'}`,
    `tags      ${ticket.tags.length > 0 ? ticket.tags.join(', ') : '-'}`,
    `created   ${ticket.created_at}`,
    `updated   ${ticket.updated_at}`,
  ];
  for (const message of ticket.messages) lines.push('', ...messageLines(message));
  return lines;
}

function messageLines(message: Message): string[] {
  const who =
    message.author?.name && message.author.email ? `${message.author.name} <${message.author.email}>` : (message.author?.email ?? message.author?.name);
  const cc = message.cc.length > 0 ? ` cc ${message.cc.join(', ')}` : '';
  const attachments = message.attachments.map((a) => `  [attachment ${a.id}: ${a.file_name}]`);
  return [`--- ${message.author_type}${who ? ` ${who}` : ''}, ${message.created_at}${cc}`, ...message.body.split('\n').map((l) => `  ${l}`), ...attachments];
}
