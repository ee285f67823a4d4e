/**
 * The files of exportRows: the rows of a list with the very columns its screen shows
 * (main/views/export-columns.ts), so that what the operator saves is what they saw, and every export goes
 * through the service that records it.
 */
import type { ExportResult } from '../views/console-queries.ts'
import { toCsv, toJson, type ExportColumn } from '../views/export-columns.ts'

/** The rows as a file to save, named `taleus-<what>-<time>.<format>`. */
export function exportFile<T>(
  what: string,
  format: 'csv' | 'json',
  rows: readonly T[],
  columns: ReadonlyArray<ExportColumn<T>>,
  now: number
): ExportResult {
  const stamp = new Date(now).toISOString().replace(/[:.]/g, '-')
  const filename = `taleus-${what}-${stamp}.${format}`
  return format === 'json'
    ? { filename, mimeType: 'application/json', content: toJson(rows, columns), rows: rows.length }
    : { filename, mimeType: 'text/csv; charset=utf-8', content: toCsv(rows, columns), rows: rows.length }
}
