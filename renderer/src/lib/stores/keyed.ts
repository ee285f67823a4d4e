/** Merges `items` into a copy of `map` (one copy per batch, so one reactive update per batch). */
export function mergeInto<T>(
  map: ReadonlyMap<string, T>,
  items: readonly T[],
  key: (item: T) => string,
  keep: (incoming: T, existing: T) => boolean = () => true
): Map<string, T> {
  const next = new Map(map)
  for (const item of items) {
    const id = key(item)
    const old = next.get(id)
    if (old === undefined || keep(item, old)) next.set(id, item)
  }
  return next
}
