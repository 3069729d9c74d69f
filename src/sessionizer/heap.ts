/**
 * A binary min-heap of (key, item) pairs kept in two parallel arrays, so a
 * push allocates nothing beyond amortized array growth. Used for lazy timers:
 * callers re-push an item whose real deadline moved and skip stale entries.
 */
export class MinHeap<T> {
  private readonly keys: number[] = [];
  private readonly items: T[] = [];

  get size(): number {
    return this.keys.length;
  }

  /** Smallest key; Infinity when empty. */
  peekKey(): number {
    return this.keys.length > 0 ? (this.keys[0] as number) : Number.POSITIVE_INFINITY;
  }

  /** Item with the smallest key; undefined when empty. */
  peekItem(): T | undefined {
    return this.items[0];
  }

  push(key: number, item: T): void {
    const keys = this.keys;
    const items = this.items;
    let i = keys.length;
    keys.push(key);
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pk = keys[parent] as number;
      if (pk <= key) break;
      keys[i] = pk;
      items[i] = items[parent] as T;
      i = parent;
    }
    keys[i] = key;
    items[i] = item;
  }

  /** Removes and returns the item with the smallest key (undefined when empty). */
  pop(): T | undefined {
    const keys = this.keys;
    const items = this.items;
    const n = keys.length;
    if (n === 0) return undefined;
    const top = items[0];
    const lastKey = keys.pop() as number;
    const lastItem = items.pop() as T;
    const size = n - 1;
    if (size > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= size) break;
        const r = l + 1;
        let c = l;
        if (r < size && (keys[r] as number) < (keys[l] as number)) c = r;
        if ((keys[c] as number) >= lastKey) break;
        keys[i] = keys[c] as number;
        items[i] = items[c] as T;
        i = c;
      }
      keys[i] = lastKey;
      items[i] = lastItem;
    }
    return top;
  }

  clear(): void {
    this.keys.length = 0;
    this.items.length = 0;
  }
}
