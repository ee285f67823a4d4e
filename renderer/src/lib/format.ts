/** Small display helpers: short ids, durations, times, countdowns. */

/** First `n` characters of an id. */
export function shortId(id: string | undefined, n = 8): string {
  return id == null ? '' : id.slice(0, n)
}

/** A peer id shortened to its distinctive tail (libp2p ids share their first characters). */
export function shortPeer(peerId: string | undefined): string {
  if (peerId == null || peerId === '') return ''
  return peerId.length <= 12 ? peerId : `…${peerId.slice(-8)}`
}

/** `ms` as m:ss, or h:mm:ss from an hour. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000))
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = String(total % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`
}

/** Remaining time in words (`3d 4h`, `12m 05s`), or `expired`. */
export function formatCountdown(until: number, now: number): string {
  const left = until - now
  if (left <= 0) return 'expired'
  const total = Math.floor(left / 1000)
  const d = Math.floor(total / 86400)
  const h = Math.floor((total % 86400) / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  if (d > 0) return `${d}d ${h}h`
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`
  return `${m}m ${String(s).padStart(2, '0')}s`
}

/** Local date and time. */
export function formatTime(at: number): string {
  return new Date(at).toLocaleString()
}

/** Local time of day with seconds and milliseconds, for timelines. */
export function formatClock(at: number): string {
  // the milliseconds inside the time ("6:41:30.317 PM"), not after a 12-hour clock's AM/PM
  return new Date(at).toLocaleTimeString(undefined, {
    hour: 'numeric',
    minute: '2-digit',
    second: '2-digit',
    fractionalSecondDigits: 3
  })
}
