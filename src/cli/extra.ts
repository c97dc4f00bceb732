/**
 * Commands contributed by feature modules (e.g. `nexus search reindex`). Returns undefined when
 * the command is not one of theirs.
 */
export async function runExtraCommand(_argv: string[], _out: (line: string) => void): Promise<number | undefined> {
  return undefined;
}
