import {
  type KyselyPlugin,
  type LimitNode,
  type OffsetNode,
  type OperationNode,
  OperationNodeTransformer,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryId,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
  ValueNode,
} from 'kysely';

/** An integer value node as a literal of the SQL text; any other node as it is. */
function asLiteral(node: OperationNode): OperationNode {
  if (!ValueNode.is(node) || node.immediate) return node;
  return typeof node.value === 'number' && Number.isSafeInteger(node.value) ? ValueNode.createImmediate(node.value) : node;
}

class LimitsAsLiterals extends OperationNodeTransformer {
  protected override transformLimit(node: LimitNode, queryId?: QueryId): LimitNode {
    const limit = super.transformLimit(node, queryId);
    return { ...limit, limit: asLiteral(limit.limit) };
  }

  protected override transformOffset(node: OffsetNode, queryId?: QueryId): OffsetNode {
    const offset = super.transformOffset(node, queryId);
    return { ...offset, offset: asLiteral(offset.offset) };
  }
}

/**
 * Writes the numbers of `limit` and `offset` into the SQL text on SQLite instead of binding them.
 * SQLite (3.53) plans a statement for the limit it was bound first and prepares it again each time
 * a value is bound there, which is every run: a statement kept by the statement cache
 * (sqlite-statements.ts) cost as much as a fresh one (measured: a primary-key read with `limit ?`
 * 20 µs, with `limit 1` 5 µs). A statement per page size costs less than preparing each run. Prepared
 * queries (prepared.ts) also inline their constants and `inlinedOnSqlite` slots.
 */
export class SqliteLiteralLimits implements KyselyPlugin {
  private readonly transformer = new LimitsAsLiterals();

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return this.transformer.transformNode(args.node, args.queryId);
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}
