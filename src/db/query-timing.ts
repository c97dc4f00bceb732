import {
  AliasNode,
  type DialectAdapter,
  type Kysely,
  type KyselyPlugin,
  type OperationNode,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryId,
  type QueryResult,
  type RootOperationNode,
  TableNode,
  type UnknownRow,
} from 'kysely';
import type { Database, DbOrTx } from './schema.js';

/** What a query does, as its metrics label it. */
export type QueryKind = 'select' | 'insert' | 'update' | 'delete' | 'raw' | 'other';

/** Records one query's duration, in seconds. */
export type RecordDuration = (seconds: number) => void;

/**
 * Where query durations go: asked once for each (kind, table) pair, whose recorder is then kept,
 * so that a query costs two clock reads and one call, never a label lookup or a string.
 */
export type QueryDurationSink = (kind: QueryKind, table: string) => RecordDuration;

const KINDS: Record<string, QueryKind> = {
  SelectQueryNode: 'select',
  InsertQueryNode: 'insert',
  UpdateQueryNode: 'update',
  DeleteQueryNode: 'delete',
  RawNode: 'raw',
};

/** The table a query is about: the first one it reads from or writes to; '' for raw SQL. */
function tableOf(node: RootOperationNode): string {
  let target: OperationNode | undefined;
  switch (node.kind) {
    case 'SelectQueryNode':
    case 'DeleteQueryNode':
      target = node.from?.froms[0];
      break;
    case 'InsertQueryNode':
      target = node.into;
      break;
    case 'UpdateQueryNode':
      target = node.table;
      break;
    default:
      return '';
  }
  if (target && AliasNode.is(target)) target = target.node;
  return target && TableNode.is(target) ? target.table.identifier.name : '';
}

/** The recorders of one sink, by kind then table. */
class Recorders {
  private readonly byKind = new Map<QueryKind, Map<string, RecordDuration>>();
  constructor(private readonly sink: QueryDurationSink) {}

  of(node: RootOperationNode): RecordDuration {
    const kind = KINDS[node.kind] ?? 'other';
    const table = tableOf(node);
    let byTable = this.byKind.get(kind);
    if (!byTable) this.byKind.set(kind, (byTable = new Map()));
    let record = byTable.get(table);
    if (!record) byTable.set(table, (record = this.sink(kind, table)));
    return record;
  }
}

interface Started {
  record: RecordDuration;
  at: number;
}

/**
 * Times the queries Kysely builds: from the moment the query is compiled (just before it is run)
 * to its result, so a wait for a connection (the PostgreSQL pool, SQLite's one writer) counts, as
 * it does for the request that runs it. A query that fails is not recorded.
 */
class QueryTimingPlugin implements KyselyPlugin {
  // Keyed by the query's id object, so an entry whose query never returns goes with it.
  private readonly started = new WeakMap<QueryId, Started>();
  constructor(private readonly recorders: Recorders) {}

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.started.set(args.queryId, { record: this.recorders.of(args.node), at: performance.now() });
    return args.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const started = this.started.get(args.queryId);
    if (started) {
      this.started.delete(args.queryId);
      started.record((performance.now() - started.at) / 1000);
    }
    return args.result;
  }
}

/** The recorders of each timed database, by its dialect adapter: one per database, shared by its transactions. */
const timed = new WeakMap<DialectAdapter, Recorders>();

/**
 * The same database, with every query's duration sent to `sink`: the queries Kysely builds through
 * a plugin, the prepared ones (src/db/prepared.ts) by their own clock. Untimed databases pay nothing.
 */
export function timeQueries(db: Kysely<Database>, sink: QueryDurationSink): Kysely<Database> {
  const recorders = new Recorders(sink);
  timed.set(db.getExecutor().adapter, recorders);
  return db.withPlugin(new QueryTimingPlugin(recorders));
}

/** For a query built once and run many times: its recorder on this database, if the database is timed. */
export function recorderFor(db: DbOrTx, node: RootOperationNode): RecordDuration | undefined {
  return timed.get(db.getExecutor().adapter)?.of(node);
}
