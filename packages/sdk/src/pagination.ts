/** One page of a NexusCore list: `next_cursor` is null on the last page. */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/**
 * A list walked page by page, following `next_cursor`, only as far as it is read:
 * `for await (const ticket of list)` yields every item, `for await (const page of list.pages())`
 * every page (keep its `next_cursor` to resume later by passing it as `after`).
 */
export class Paginated<T> implements AsyncIterable<T> {
  constructor(
    private readonly fetchPage: (after: string | undefined) => Promise<Page<T>>,
    private readonly startAfter?: string,
  ) {}

  async *pages(): AsyncGenerator<Page<T>, void, undefined> {
    let after = this.startAfter;
    for (;;) {
      const page = await this.fetchPage(after);
      yield page;
      if (page.next_cursor === null) return;
      // A cursor that does not move would loop forever; the server never sends one, but say so if it does.
      if (page.next_cursor === after) throw new Error(`the list answered the cursor it was given (${after}) as its next cursor`);
      after = page.next_cursor;
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for await (const page of this.pages()) yield* page.data;
  }

  /** Every item, or the first `max`, in one array: for lists known to be short. */
  async toArray(max = Number.POSITIVE_INFINITY): Promise<T[]> {
    const items: T[] = [];
    if (max <= 0) return items;
    for await (const item of this) {
      items.push(item);
      if (items.length >= max) break;
    }
    return items;
  }
}
