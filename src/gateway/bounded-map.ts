/**
 * A Map that keeps at most `max` entries and forgets the oldest (by last set) in O(1).
 * Why not Map + `keys().next()`: V8 leaves deleted slots in place until it rehashes, and
 * `keys().next()` skips them one by one, so evicting from the front of a busy Map costs ~10 µs an
 * entry at 10,000 entries (measured for bench/records.ts).
 */
export class BoundedMap<V> {
  private readonly map = new Map<string, { v: V; n: number }>();
  /** Keys in the order they were last set, with the set's number; stale pairs are skipped. */
  private order: Array<[string, number]> = [];
  private head = 0;
  private counter = 0;

  constructor(private readonly max: number) {}

  get size(): number {
    return this.map.size;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  get(key: string): V | undefined {
    return this.map.get(key)?.v;
  }

  /** Sets the value and makes the entry the newest; forgets the oldest beyond `max`. */
  set(key: string, v: V): void {
    const n = ++this.counter;
    this.map.set(key, { v, n });
    this.order.push([key, n]);
    while (this.map.size > this.max) this.evictOldest();
    // Stale pairs (deleted or set again) are dropped once they outnumber the live ones.
    if (this.order.length - this.head > 2 * this.map.size + 1024) {
      // The rebuilt list starts with the oldest live entry: the read position starts over with it.
      this.order = [...this.liveOrder()];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  delete(key: string): boolean {
    return this.map.delete(key);
  }

  /** Oldest first. */
  *entries(): IterableIterator<[string, V]> {
    for (const [k] of this.liveOrder()) yield [k, this.map.get(k)!.v];
  }

  keys(): IterableIterator<string> {
    return this.map.keys();
  }

  private *liveOrder(): IterableIterator<[string, number]> {
    for (let i = this.head; i < this.order.length; i++) {
      const [k, n] = this.order[i];
      if (this.map.get(k)?.n === n) yield [k, n];
    }
  }

  private evictOldest(): void {
    while (this.head < this.order.length) {
      const [k, n] = this.order[this.head++];
      if (this.map.get(k)?.n === n) {
        this.map.delete(k);
        return;
      }
    }
  }
}
