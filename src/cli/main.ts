import { parseArgs } from 'node:util';
import { openRuntime, type Runtime } from '../bootstrap.js';
import { ConfigError, loadConfig } from '../config.js';
import { AppError } from '../http/problem.js';
import { serve } from '../server.js';
import type { Scope } from '../auth/scopes.js';
import { runTicketsCommand, TICKETS_ENVIRONMENT, TICKETS_USAGE } from './tickets.js';

const USAGE = `Usage: nexus <command>   ([…] marks an optional part, a|b one of two; type neither brackets nor bars)

  serve [--processes N|auto]          run the API server (and background jobs), like npm start; with
                                      --processes (NEXUS_PROCESSES), N API processes on the one port
  worker                              run only the background jobs (webhook delivery, snooze wake-up)
  db migrate                          bring the database schema up to date
  tokens create --name N --scopes S[,S] [--brands B[,B]] [--expires-at T] [--agent agt_…]
                                      create an API token; prints the secret once
  tokens list                         list tokens (never their secrets)
  tokens revoke <token_id>            revoke a token, effective immediately
  brands create --name N [--id brand_x]
  brands list
  keys list                           list the URL-signing keys (ids and dates, never the keys)
  keys rotate [--force]               sign new upload/download URLs with a new key; URLs signed with
                                      the old one keep working until they expire (docs/attachments.md)
  search reindex [--brand brand_x]   rebuild the search indexes, with a progress bar and ETA
  export --format jsonl|csv --out <file> [--brand brand_x] [--since T]
                                      every ticket with its history to a file, with a progress bar
  import --from zendesk|freshdesk|jsonl <file> [--users <file>] [--brand brand_x] [--emit-events]
                                      import tickets with their history; rerun to resume (docs/export-import.md)
  backup --out <file>                 copy the database (online, while serving), the attachment files and
                                      the secret key to <file>, <file>.blobs/ and <file>.secret-key
  restore <file> [--force]            restore a backup into the data dir, with every process on it stopped
                                      (PostgreSQL: pg_dump and pg_restore, docs/operations.md)
${TICKETS_USAGE}

Configuration comes from the environment (see .env.example).
${TICKETS_ENVIRONMENT}`;

type Out = (line: string) => void;

async function withRuntime<T>(fn: (runtime: Runtime) => Promise<T>): Promise<T> {
  const runtime = await openRuntime(loadConfig());
  try {
    return await fn(runtime);
  } finally {
    await runtime.close();
  }
}

const list = (text: string | undefined): string[] | undefined =>
  text === undefined
    ? undefined
    : text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);

/** Runs one CLI command; returns the process exit code. The CLI calls services directly, never HTTP. */
export async function main(
  argv: string[],
  out: Out = (l) => process.stdout.write(`${l}\n`),
  err: Out = (l) => process.stderr.write(`${l}\n`),
): Promise<number> {
  const [group, action, ...rest] = argv;
  if (argv.includes('--help') || argv.includes('-h') || group === 'help') {
    out(group === undefined || group === 'help' || group.startsWith('-') ? USAGE : commandUsage(group, action));
    return 0;
  }
  try {
    if (group === 'tickets') return await runTicketsCommand(argv.slice(1), process.env, out, err);
    if (group === 'serve') {
      const { values } = parseArgs({ args: argv.slice(1), options: { processes: { type: 'string' } } });
      const processes = values.processes;
      if (processes !== undefined && !/^(auto|[1-9]\d{0,2})$/.test(processes))
        throw new UsageError('--processes takes a number of processes (1 to 999) or auto');
      await serve(loadConfig(processes === undefined ? process.env : { ...process.env, NEXUS_PROCESSES: processes }));
      return await new Promise<number>(() => {});
    }
    if (group === 'export') return await (await import('./export.js')).runExport(argv.slice(1), out, err);
    if (group === 'import') return await (await import('./import.js')).runImport(argv.slice(1), out, err);
    switch (`${group ?? ''} ${action ?? ''}`.trim()) {
      case 'worker': {
        const { runWorker } = await import('./worker.js');
        await runWorker(loadConfig());
        return await new Promise<number>(() => {});
      }
      case 'db migrate':
        await withRuntime(async (r) => out(`database at ${r.location} is up to date`));
        return 0;
      case 'tokens create': {
        const { values } = parseArgs({
          args: rest,
          options: {
            name: { type: 'string' },
            scopes: { type: 'string' },
            brands: { type: 'string' },
            'expires-at': { type: 'string' },
            agent: { type: 'string' },
          },
        });
        if (!values.name || !values.scopes) throw new UsageError('tokens create needs --name and --scopes');
        const created = await withRuntime((r) =>
          r.services.tokens.create({
            name: values.name!,
            scopes: list(values.scopes) as Scope[],
            brand_ids: list(values.brands) ?? null,
            expires_at: values['expires-at'] ?? null,
            agent_id: values.agent ?? null,
          }),
        );
        out(
          `created ${created.id} (${created.scopes.join(', ')}${created.brand_ids ? `; brands ${created.brand_ids.join(', ')}` : ''}${created.agent_id ? `; agent ${created.agent_id}` : ''})`,
        );
        out(`secret (shown once): ${created.token}`);
        return 0;
      }
      case 'tokens list': {
        const tokens = await withRuntime((r) => r.services.tokens.list());
        for (const t of tokens) {
          const state = t.revoked_at ? 'revoked' : t.expires_at && t.expires_at < new Date().toISOString() ? 'expired' : 'active';
          out(`${t.id}\t${state}\t${t.hint}\t${t.scopes.join(',')}\t${t.brand_ids?.join(',') ?? '*'}\t${t.name}`);
        }
        return 0;
      }
      case 'tokens revoke': {
        if (!rest[0]) throw new UsageError('tokens revoke needs a token id');
        const revoked = await withRuntime((r) => r.services.tokens.revoke(rest[0]!));
        out(`revoked ${revoked.id} at ${revoked.revoked_at}`);
        return 0;
      }
      case 'brands create': {
        const { values } = parseArgs({ args: rest, options: { name: { type: 'string' }, id: { type: 'string' } } });
        if (!values.name) throw new UsageError('brands create needs --name');
        const brand = await withRuntime((r) => r.services.brands.create({ name: values.name!, id: values.id }));
        out(`created ${brand.id} (${brand.name}), default queue ${brand.default_queue_id}`);
        return 0;
      }
      case 'brands list': {
        const brands = await withRuntime((r) => r.services.brands.list(null));
        for (const b of brands) out(`${b.id}\t${b.name}`);
        return 0;
      }
      case 'keys list': {
        const keys = await withRuntime((r) => r.services.attachments.signingKeys.list());
        for (const k of keys) out(`${k.kid}\t${k.role}\t${k.created_at}`);
        return 0;
      }
      case 'keys rotate': {
        const { values } = parseArgs({ args: rest, options: { force: { type: 'boolean' } } });
        const rotation = await withRuntime((r) => r.services.attachments.signingKeys.rotate({ force: values.force === true }));
        out(`new URL-signing key ${rotation.current.kid}: new upload and download URLs are signed with it`);
        if (rotation.previous) out(`previous key ${rotation.previous.kid}: URLs it signed keep working until they expire (15 minutes at most)`);
        if (rotation.retired) out(`retired key ${rotation.retired.kid}: URLs it signed no longer work`);
        return 0;
      }
      default: {
        const { runExtraCommand } = await import('./extra.js');
        const code = await runExtraCommand(argv, out, err);
        if (code !== undefined) return code;
        if (group === undefined) {
          out(USAGE);
          return 0;
        }
        err(`nexus: unknown command "${argv.slice(0, 2).join(' ')}"\n`);
        err(commandUsage(group, undefined));
        return 2;
      }
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError) {
      err(e.message);
      return 2;
    }
    if (e instanceof AppError) {
      err(`${e.message}${e.errors ? ` (${e.errors.map((x) => x.pointer).join(', ')})` : ''}`);
      return 1;
    }
    if (isParseArgsError(e)) {
      // A stray positional (a literal `[--id brand_123]` copied from a usage line), an unknown option,
      // an option without its value: say what was wrong and how the command is called.
      err(e.message);
      err(commandUsage(group ?? '', action));
      return 2;
    }
    throw e;
  }
}

const isParseArgsError = (e: unknown): e is Error & { code: string } =>
  e instanceof Error && String((e as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS_');

/**
 * The usage lines of `group action` (else of every `group …` command, else the whole usage), as
 * `Usage: nexus …` lines without their descriptions.
 */
function commandUsage(group: string, action: string | undefined): string {
  const commands: string[] = [];
  for (const line of USAGE.split('\n')) {
    const syntax = line.trim().split(/\s{2,}/)[0]!;
    if (/^ {2}[a-z]/.test(line)) commands.push(syntax);
    // A command too long for one line goes on, indented, with its next option (descriptions sit further right).
    else if (/^ {3,30}[[-]/.test(line) && commands.length > 0) commands.push(`${commands.pop()} ${syntax}`);
  }
  const starting = (prefix: string) => commands.filter((c) => c === prefix || c.startsWith(`${prefix} `));
  const matching = action === undefined ? [] : starting(`${group} ${action}`);
  const chosen = matching.length > 0 ? matching : starting(group);
  return chosen.length > 0 ? chosen.map((c) => `Usage: nexus ${c}`).join('\n') : USAGE;
}

class UsageError extends Error {}
