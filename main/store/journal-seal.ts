/**
 * The integrity seal of a journal line: `{"_c":"<crc32 hex>",…}`, the record's own JSON with its CRC-32
 * as first member, so the file stays JSON Lines while one damaged byte anywhere in a line is detected.
 */
import { crc32 } from 'node:zlib'

/** No record comes near this; a longer "line" mid-file is damage, at the end a torn tail. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024
const SEAL = '{"_c":"'

/** The line stored for JSON object text `json`: its CRC-32 as first member `_c` (see the file comment). */
export function sealLine(json: string): string {
  const crc = crc32(json).toString(16).padStart(8, '0')
  return json === '{}' ? `${SEAL}${crc}"}` : `${SEAL}${crc}",${json.slice(1)}`
}

/** A stored line read back: the JSON text without its seal; `sealed` false for a legacy line; undefined when damaged. */
export function unsealLine(line: string): { text: string; sealed: boolean } | undefined {
  if (!line.startsWith(SEAL)) return { text: line, sealed: false }
  const crc = line.slice(SEAL.length, SEAL.length + 8)
  const rest = line.slice(SEAL.length + 9)
  const text = rest === '}' ? '{}' : rest.startsWith(',') ? `{${rest.slice(1)}` : undefined
  if (line[SEAL.length + 8] !== '"' || text === undefined || !/^[0-9a-f]{8}$/.test(crc)) return undefined
  return crc32(text) === parseInt(crc, 16) ? { text, sealed: true } : undefined
}

/** One line met while opening or checking a journal, oldest first. */
export interface ScannedLine {
  /** 1-based line number in the file. */
  number: number
  offset: number
  /** Bytes of the line without its newline. */
  bytes: number
  /** The JSON text, unsealed; the raw text when `damaged`. */
  text: string
  sealed: boolean
  /** Checksum mismatch, a broken seal, or a line longer than MAX_LINE_BYTES. */
  damaged: boolean
}
