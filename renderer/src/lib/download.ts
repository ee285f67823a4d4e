/** Saving files from the renderer (exports, QR images) without any server round trip. */

/** Offers `blob` as a download named `filename`. */
export function saveBlob(filename: string, blob: Blob): void {
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = filename
  a.rel = 'noopener'
  document.body.append(a)
  a.click()
  a.remove()
  // Revoke later: the download reads the blob asynchronously.
  setTimeout(() => URL.revokeObjectURL(url), 60_000)
}

/** Offers text as a download. */
export function saveText(filename: string, text: string, type: string): void {
  saveBlob(filename, new Blob([text], { type }))
}

function csvCell(value: unknown): string {
  const text = value == null ? '' : String(value)
  // Quote always; neutralise leading formula characters so a spreadsheet never evaluates a cell.
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text
  return `"${safe.replaceAll('"', '""')}"`
}

/** CSV (RFC 4180, CRLF) of `rows` with the given columns, header first. */
export function toCsv<T>(
  rows: readonly T[],
  columns: readonly { header: string; value: (row: T) => unknown }[]
): string {
  const lines = [columns.map((c) => csvCell(c.header)).join(',')]
  for (const row of rows) lines.push(columns.map((c) => csvCell(c.value(row))).join(','))
  return lines.join('\r\n') + '\r\n'
}

/** Copies text to the clipboard, falling back to a selection copy where the clipboard API is denied. */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    const area = document.createElement('textarea')
    area.value = text
    area.setAttribute('readonly', '')
    area.className = 'offscreen'
    document.body.append(area)
    area.select()
    const ok = document.execCommand('copy')
    area.remove()
    return ok
  }
}

/** A timestamp safe for file names. */
export function fileStamp(at = Date.now()): string {
  return new Date(at).toISOString().replace(/[:.]/g, '-')
}
