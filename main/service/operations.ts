/**
 * Who called a command (the shell it came through), handed by the dispatcher to the service so that every
 * operator action lands in the audit trail with its actor.
 */
import type { Actor, OperationView } from '../views/console-queries.ts'

/** What the dispatcher knows about a call besides its input. */
export interface CallContext {
  actor: Actor
}

/** A call the node makes itself (start, stop, a display's next token). */
export const SYSTEM_CALL: CallContext = { actor: 'system' }

const ACTORS: ReadonlySet<string> = new Set(['electron', 'browser', 'cli', 'system'])

/** The actor of a call context; anything unknown is `system`. */
export function actorOf(ctx: CallContext | undefined): Actor {
  const actor = ctx?.actor
  return typeof actor === 'string' && ACTORS.has(actor) ? actor : 'system'
}

/** An operator record of the trail as the API shows it; undefined for any other record. */
export function toOperationView(r: Record<string, unknown>): OperationView | undefined {
  if (typeof r.op !== 'string' || typeof r.at !== 'number' || typeof r.actor !== 'string') return undefined
  const view: OperationView = {
    op: r.op,
    actor: ACTORS.has(r.actor) ? (r.actor as Actor) : 'system',
    at: r.at
  }
  for (const key of ['sessionId', 'tokenId', 'tallyId'] as const) {
    const value = r[key]
    if (typeof value === 'string') view[key] = value
  }
  if (r.detail !== null && typeof r.detail === 'object' && !Array.isArray(r.detail)) {
    const detail: Record<string, string | number | boolean> = {}
    for (const [k, v] of Object.entries(r.detail as Record<string, unknown>))
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') detail[k] = v
    view.detail = detail
  }
  return view
}

/** Plain words for who did it. */
export const ACTOR_WORDS: Record<Actor, string> = {
  electron: 'the desktop console',
  browser: 'the browser console',
  cli: 'the command line',
  system: 'the node'
}
