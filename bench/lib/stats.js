// Small statistics helpers for the benchmark table.

/** The q-quantile (0..1) of `values` (nearest rank), or NaN when empty. */
export function quantile(values, q) {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank]
}

/** Median of `values`. */
export function median(values) {
  return quantile(values, 0.5)
}

/** Arithmetic mean of `values`, or NaN when empty. */
export function mean(values) {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length
}

/** Rounds to `digits` decimals. */
export function round(value, digits = 1) {
  const f = 10 ** digits
  return Math.round(value * f) / f
}
