/** QR images of a link for saving (PNG for print shops, SVG for scaling). */
import QRCode from 'qrcode'

/** A PNG of the link's QR code, `width` pixels square. */
export async function qrPng(link: string, width = 1024): Promise<Blob> {
  const url = await QRCode.toDataURL(link, { errorCorrectionLevel: 'M', margin: 4, width })
  // Decoded by hand: the CSP's connect-src does not allow fetch() of a data: URL.
  const bytes = Uint8Array.from(atob(url.slice(url.indexOf(',') + 1)), (c) => c.charCodeAt(0))
  return new Blob([bytes], { type: 'image/png' })
}

/** An SVG document of the link's QR code. */
export async function qrSvg(link: string): Promise<string> {
  return QRCode.toString(link, { type: 'svg', errorCorrectionLevel: 'M', margin: 4 })
}

/** A file-name-safe form of a label. */
export function fileName(label: string, fallback: string): string {
  const safe = label
    .trim()
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
  return safe === '' ? fallback : safe.slice(0, 60)
}
