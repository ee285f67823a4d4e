/**
 * What libraries print with console.log and friends, kept off stdout and bounded: automerge-repo logs a
 * multi-line entry with a stack for every malformed message a counterparty sends (1.3 KB of log per
 * 140-byte message: 590 MB in one run), onto the stdout that carries `taleus serve`'s JSON lines.
 * Here each goes to stderr as one line of at most 300 characters, at most `perMinute` a minute; the rest
 * are counted and the count said once the minute is over.
 */
import { format } from 'node:util'

/** Options of routeLibraryLog. */
export interface LibraryLogInit {
  /** Where lines go. Default process.stderr. */
  write?: (line: string) => void
  /** Lines let through per minute. Default 20. */
  perMinute?: number
  now?: () => number
}

const METHODS = ['log', 'info', 'warn', 'error', 'debug'] as const

/** Route console.* to `write`, one bounded line each, rate-limited; returns a function that undoes it. */
export function routeLibraryLog(init: LibraryLogInit = {}): () => void {
  const write = init.write ?? ((line: string) => process.stderr.write(line))
  const perMinute = init.perMinute ?? 20
  const now = init.now ?? Date.now
  let windowStart = now()
  let shown = 0
  let dropped = 0
  const saved = METHODS.map((m) => console[m])
  const line = (...args: unknown[]): void => {
    const at = now()
    if (at - windowStart >= 60_000) {
      if (dropped > 0) write(`taleus: (${dropped} more library messages in the last minute were not shown)\n`)
      windowStart = at
      shown = 0
      dropped = 0
    }
    if (shown >= perMinute) {
      dropped++
      return
    }
    shown++
    const text = format(...args)
      .replace(/\s+/g, ' ')
      .trim()
    write(`taleus: (library) ${text.length > 300 ? `${text.slice(0, 300)}…` : text}\n`)
  }
  for (const m of METHODS) console[m] = line
  return () => {
    METHODS.forEach((m, k) => {
      console[m] = saved[k]!
    })
  }
}
