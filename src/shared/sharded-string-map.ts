/**
 * A map from strings held in 16 maps picked by a cheap hash of the key rather than in one. A Map
 * grows by rehashing all its entries in one step: at the sizes the search indexes reach (the
 * built-in embedder's 341k words, a keyword index's terms at a million tickets) one growth held
 * the event loop 45-100 ms and more, inside loads that otherwise yield every few ms. A map of a
 * sixteenth of the entries grows in a sixteenth of the time. A lookup costs two characters' codes
 * and the length more.
 */
export class ShardedStringMap<V> {
  readonly #maps = Array.from({ length: SHARDS }, () => new Map<string, V>());

  get(key: string): V | undefined {
    return this.#maps[shardOf(key)]!.get(key);
  }

  has(key: string): boolean {
    return this.#maps[shardOf(key)]!.has(key);
  }

  set(key: string, value: V): this {
    this.#maps[shardOf(key)]!.set(key, value);
    return this;
  }

  get size(): number {
    let n = 0;
    for (const m of this.#maps) n += m.size;
    return n;
  }

  /** Every entry, in no particular order. */
  *[Symbol.iterator](): IterableIterator<[string, V]> {
    for (const m of this.#maps) yield* m;
  }
}

const SHARDS = 16;

/** Which of the maps holds `key`. The empty key's NaN becomes 0 under `&`. */
export function shardOf(key: string): number {
  return (key.charCodeAt(0) * 31 + key.charCodeAt(key.length - 1) * 7 + key.length) & (SHARDS - 1);
}
