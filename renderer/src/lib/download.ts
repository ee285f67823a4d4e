/** Saving files in the renderer: QR images, and the files exportRows returns (built and recorded by the node). */

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
