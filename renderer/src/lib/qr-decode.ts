/** Reads a QR code from an image file (a photo or screenshot of a Taleus link). */
import jsQR from 'jsqr'

const MAX_SIDE = 1600

/** The text of the first QR code found in `file`, or undefined. */
export async function decodeQrImage(file: Blob): Promise<string | undefined> {
  const bitmap = await createImageBitmap(file)
  // Big photos are scaled down: jsQR is linear in pixels and a QR code stays readable.
  const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height))
  const w = Math.max(1, Math.round(bitmap.width * scale))
  const h = Math.max(1, Math.round(bitmap.height * scale))
  const canvas = document.createElement('canvas')
  canvas.width = w
  canvas.height = h
  const ctx = canvas.getContext('2d', { willReadFrequently: true })
  if (ctx == null) return undefined
  ctx.drawImage(bitmap, 0, 0, w, h)
  bitmap.close()
  const image = ctx.getImageData(0, 0, w, h)
  return jsQR(image.data, w, h, { inversionAttempts: 'attemptBoth' })?.data
}
