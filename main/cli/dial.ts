/** `taleus dial LINK`: a dialer node of its own bootstraps once and reports the outcome. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { DialOutcome, IdentityBundle } from '../../preload/contract.ts'
import type { ReasonCode } from '../bootstrap/types.ts'
import { CliError, UsageError } from './cli-error.ts'

/** Options of `taleus dial`. */
export interface DialOptions {
  link: string
  dataDir?: string
  identity?: IdentityBundle
  listen?: string[]
  json: boolean
}

/** Run the dial; resolves with the success outcome or throws a CliError naming the reason code. */
export async function dial(opts: DialOptions): Promise<DialOutcome> {
  const [{ createConsoleService, REFUSAL_REASONS }, { ApiError }, { parseLink }] = await Promise.all([
    import('../service/index.ts'),
    import('../api/api-error.ts'),
    import('../bootstrap/link.ts')
  ])
  // A bad link is a bad argument: say so before starting a node. Its messages never quote the token.
  try {
    parseLink(opts.link)
  } catch (err) {
    throw new UsageError(`invalid-link — ${err instanceof Error ? err.message : 'this is not a Taleus link'}`)
  }
  const tempDir = opts.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'taleus-dial-')) : undefined
  const dataDir = tempDir ?? resolve(opts.dataDir as string)
  try {
    const service = await createConsoleService({
      dataDir,
      mdns: false,
      // A dialer needs no reachable address of its own: the whole bootstrap runs on the stream it opens.
      listen: opts.listen === undefined || opts.listen.length === 0 ? ['/ip4/127.0.0.1/tcp/0'] : opts.listen
    })
    let outcome: DialOutcome
    let sessionId: string | undefined
    const early: Array<{ id: string; state: string }> = []
    const unsubscribe = service.subscribe((events) => {
      for (const e of events) {
        if (e.kind !== 'session') continue
        if (sessionId === undefined) early.push({ id: e.session.sessionId, state: e.session.state })
        else if (e.session.sessionId === sessionId) process.stderr.write(`taleus: ${e.session.state}\n`)
      }
    })
    try {
      await service.start()
      sessionId = (
        await service.dial({
          link: opts.link,
          ...(opts.identity === undefined ? {} : { identity: opts.identity })
        })
      ).sessionId
      for (const e of early) if (e.id === sessionId) process.stderr.write(`taleus: ${e.state}\n`)
      outcome = await service.waitDial({ sessionId })
    } catch (err) {
      if (err instanceof ApiError) throw new CliError(`${err.code} — ${err.message}`)
      throw err
    } finally {
      // stop() delivers the last batched events (the final state) before the result line.
      await service.stop().catch(() => {})
      unsubscribe()
    }
    if (!outcome.ok) {
      const kind = REFUSAL_REASONS.has(outcome.reason)
        ? 'rejected'
        : outcome.reason === 'timeout'
          ? 'timed out'
          : 'failed'
      throw new CliError(`${kind}: ${outcome.reason} — ${outcome.message}`)
    }
    return outcome
  } finally {
    if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true }).catch(() => {})
  }
}

/** The one-line human form of a successful dial. */
export function describeDial(outcome: Extract<DialOutcome, { ok: true }>): string {
  return `bootstrapped tally ${outcome.tallyId} (${outcome.role}) with ${outcome.remotePeerId}`
}

export type { ReasonCode }
