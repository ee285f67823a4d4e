/**
 * A frame's CBOR checked before it is decoded: automerge-repo's decoder (cbor-x) turns a tagged bignum into
 * a BigInt one byte at a time, which costs the square of its length, synchronously: one 384 KiB frame from
 * a stranger held a merchant's event loop for 111 s. Our frames and automerge-repo's messages carry no tags
 * at all (its encoder writes byte arrays untagged), so a frame with any tag, nesting deeper than any frame
 * needs, or bytes after its one item is refused here, in one pass linear in its length.
 */

/** A frame whose CBOR is not the plain shape our frames have. */
export class CborShapeError extends Error {
  override name = 'CborShapeError'
}

/** Deepest nesting a frame needs (a message object inside a frame, its arrays inside it). */
export const MAX_CBOR_DEPTH = 16

/** Throws CborShapeError unless `bytes` is exactly one untagged CBOR item nested at most `maxDepth` deep. */
export function assertPlainCbor(bytes: Uint8Array, maxDepth = MAX_CBOR_DEPTH): void {
  let at = 0
  const need = (n: number): void => {
    if (n > bytes.length - at) throw new CborShapeError('truncated')
  }
  const argument = (info: number): number => {
    if (info < 24) return info
    const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0
    if (size === 0) throw new CborShapeError('reserved additional information')
    need(size)
    let value = 0
    // lengths and counts past 2^53 exceed any frame: the length check after this refuses them
    for (let k = 0; k < size; k++) value = value * 256 + bytes[at + k]!
    at += size
    return value
  }
  const item = (depth: number): void => {
    if (depth > maxDepth) throw new CborShapeError('nested too deep')
    need(1)
    const head = bytes[at++]!
    const major = head >> 5
    const info = head & 31
    if (major === 6) throw new CborShapeError('tagged values are not accepted')
    if (major === 7) {
      if (info === 31) throw new CborShapeError('unexpected break')
      if (info >= 24) argument(info)
      return
    }
    if (info === 31) {
      // indefinite length: items (or, for strings, definite chunks of the same type) until a break
      if (major < 2) throw new CborShapeError('indefinite integer')
      for (;;) {
        need(1)
        if (bytes[at] === 0xff) {
          at++
          return
        }
        if (major <= 3 && bytes[at]! >> 5 !== major) throw new CborShapeError('bad string chunk')
        item(depth + 1)
        if (major === 5) item(depth + 1)
      }
    }
    const n = argument(info)
    if (major <= 1) return
    if (major <= 3) {
      need(n)
      at += n
      return
    }
    // every item takes at least one byte: a count beyond what is left fails at its first missing byte
    for (let k = 0; k < n; k++) {
      item(depth + 1)
      if (major === 5) item(depth + 1)
    }
  }
  item(0)
  if (at !== bytes.length) throw new CborShapeError('bytes after the frame')
}
