/** Text from other people (labels, names) made safe to put inside our own sentences. */

const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/g

/**
 * `text` without bidi control characters, for places where markup cannot isolate it (window title,
 * desktop notifications). In the page, wrap such text in `<bdi>` instead.
 */
export function bidiSafe(text: string): string {
  return text.replace(BIDI_CONTROLS, '')
}
