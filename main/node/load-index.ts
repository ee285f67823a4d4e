/** Counts per key with the heaviest key found in O(1): keys sit in buckets by count, as in an LFU cache. */
export class LoadIndex<K> {
  private readonly counts = new Map<K, number>()
  private readonly buckets = new Map<number, Set<K>>()
  private max = 0

  /** The count of `key` (0 when absent). */
  get(key: K): number {
    return this.counts.get(key) ?? 0
  }

  /** Adds one to `key`'s count. */
  increment(key: K): void {
    const n = this.get(key)
    this.move(key, n, n + 1)
    if (n + 1 > this.max) this.max = n + 1
  }

  /** Takes one from `key`'s count; a key at 0 is forgotten. */
  decrement(key: K): void {
    const n = this.get(key)
    if (n === 0) return
    this.move(key, n, n - 1)
    // counts change by one, so the next non-empty bucket below is at most one step down
    while (this.max > 0 && (this.buckets.get(this.max)?.size ?? 0) === 0) this.max--
  }

  /** The highest count (0 when empty). */
  get maxCount(): number {
    return this.max
  }

  /** Keys with the highest count, or an empty list. */
  heaviest(): Iterable<K> {
    return this.buckets.get(this.max) ?? []
  }

  private move(key: K, from: number, to: number): void {
    const old = this.buckets.get(from)
    old?.delete(key)
    if (old?.size === 0) this.buckets.delete(from)
    if (to === 0) {
      this.counts.delete(key)
      return
    }
    this.counts.set(key, to)
    let bucket = this.buckets.get(to)
    if (bucket == null) this.buckets.set(to, (bucket = new Set()))
    bucket.add(key)
  }
}
