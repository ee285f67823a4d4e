/**
 * `taleus dial [LINK | -] [--link-file FILE]`: a dialer node of its own bootstraps once and reports the
 * outcome. The link holds a token, and the arguments of a process are readable by every local user
 * (`ps`), so stdin and files are the advised ways in; a link in the arguments still works, with a warning.
 */
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { DialOutcome, IdentityBundle, TallyView } from '../views/console-views.ts'
import { roleSentence } from '../views/roles.ts'
import type { ConsoleService } from '../service/console-service.ts'
import type { ReasonCode } from '../bootstrap/types.ts'
import { CliError, UsageError } from './cli-error.ts'
import { completeIdentity } from './dial-identity.ts'
import { MAX_LINK_BYTES, parseLinkText, type LinkSource } from './parse-args.ts'
import { printable } from './terminal-text.ts'

/** The stderr line of a link given in the arguments (printed once the link is known to be one). */
export const ARGV_LINK_WARNING =
  'taleus: warning: a link in the arguments (with its token) is visible to other local users (ps); ' +
  'pass it on stdin with "taleus dial -" or with --link-file FILE'

/** What `taleus dial` says when it lost the end of the exchange and asks the merchant. */
export const PENDING_CHECK_LINE = 'the merchant may have opened this tally; checking…'

/** Verdict queries a dial makes about its own lost exchange before it leaves the tally pending. */
const PENDING_TRIES = 5

/** Options of `taleus dial`. */
export interface DialOptions {
  /** The link; without one (and with a data folder) the run only settles tallies left pending earlier. */
  link?: string
  dataDir?: string
  identity?: IdentityBundle
  listen?: string[]
  json: boolean
  /** The link came from the arguments: warn that other local users can read it. */
  linkFromArgv?: boolean
}

/** Reads at most MAX_LINK_BYTES from `input` (stdin), or throws UsageError past that. */
async function readCapped(input: AsyncIterable<Buffer | string>): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    size += bytes.length
    if (size > MAX_LINK_BYTES) throw new UsageError(`the link input is larger than ${MAX_LINK_BYTES} bytes`)
    chunks.push(bytes)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** The link from where `source` says: the arguments, stdin (`stdin`), or a file (one link on one line). */
export async function readDialLink(
  source: LinkSource,
  stdin: AsyncIterable<Buffer | string> = process.stdin
): Promise<string> {
  if (source.from === 'argv') return source.link
  if (source.from === 'stdin') return parseLinkText(await readCapped(stdin))
  let text: string
  try {
    const file = await open(source.path, 'r')
    try {
      text = await readCapped(file.createReadStream({ autoClose: false }))
    } finally {
      await file.close()
    }
  } catch (err) {
    if (err instanceof UsageError) throw err
    const code = (err as { code?: unknown }).code
    throw new UsageError(
      `cannot read --link-file ${source.path}: ${typeof code === 'string' ? code : 'error'}`
    )
  }
  return parseLinkText(text)
}

/**
 * Run the dial; resolves with the success outcome or throws a CliError naming the reason code. A tally
 * whose verdict this run could not learn stays `pending` in the data folder (a temporary one is then
 * kept and named): the next run on that folder asks the merchant again, first thing.
 */
export async function dial(opts: DialOptions): Promise<DialOutcome | undefined> {
  const [{ createConsoleService, REFUSAL_REASONS }, { ApiError }, { parseLink }] = await Promise.all([
    import('../service/index.ts'),
    import('../service/api-error.ts'),
    import('../bootstrap/link.ts')
  ])
  // A bad link is a bad argument: say so before starting a node. Its messages never quote the token.
  try {
    if (opts.link !== undefined) parseLink(opts.link)
  } catch (err) {
    throw new UsageError(`invalid-link — ${err instanceof Error ? err.message : 'this is not a Taleus link'}`)
  }
  if (opts.linkFromArgv === true) process.stderr.write(`${ARGV_LINK_WARNING}\n`)
  // the link names the identity fields the merchant requires: ask for missing ones before dialing
  const identity = opts.link === undefined ? opts.identity : await completeIdentity(opts.link, opts.identity)
  const tempDir = opts.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'taleus-dial-')) : undefined
  const dataDir = tempDir ?? resolve(opts.dataDir as string)
  // a pending tally needs this folder (its peer key proves who asks): a temporary one is then kept
  let keepDir = false
  try {
    const service = await createConsoleService({
      dataDir,
      mdns: false,
      // A dialer needs no reachable address of its own: the whole bootstrap runs on the stream it opens.
      listen: opts.listen === undefined || opts.listen.length === 0 ? ['/ip4/127.0.0.1/tcp/0'] : opts.listen
    })
    let outcome: DialOutcome | undefined
    let pendingTally: TallyView | undefined
    let sessionId: string | undefined
    const early: Array<{ id: string; state: string }> = []
    const unsubscribe = service.subscribe((events) => {
      for (const e of events) {
        if (e.kind !== 'session') continue
        if (sessionId === undefined) early.push({ id: e.session.sessionId, state: e.session.state })
        else if (e.session.sessionId === sessionId)
          process.stderr.write(`taleus: ${printable(e.session.state)}\n`)
      }
    })
    try {
      await service.start()
      keepDir = (await settleEarlier(service)) > 0
      if (opts.link !== undefined) {
        sessionId = (
          await service.dial({
            link: opts.link,
            ...(identity === undefined ? {} : { identity })
          })
        ).sessionId
        for (const e of early) if (e.id === sessionId) process.stderr.write(`taleus: ${printable(e.state)}\n`)
        outcome = await service.waitDial({ sessionId })
        if (!outcome.ok) {
          const id = sessionId
          const tally = (await service.listTallies()).find((t) => t.sessionId === id)
          if (tally?.status === 'pending') {
            process.stderr.write(`taleus: ${PENDING_CHECK_LINE}\n`)
            const settled = await askUntilSettled(service, tally.tallyId)
            if (settled?.status === 'confirmed')
              outcome = {
                sessionId: id,
                ok: true,
                tallyId: settled.tallyId,
                role: settled.role,
                remotePeerId: settled.counterpartyPeerId
              }
            else if (settled === undefined || settled.status === 'pending') pendingTally = tally
          }
        }
      }
    } catch (err) {
      if (err instanceof ApiError) throw new CliError(`${err.code} — ${err.message}`)
      throw err
    } finally {
      // stop() delivers the last batched events (the final state) before the result line.
      await service.stop().catch(() => {})
      unsubscribe()
    }
    if (pendingTally !== undefined) {
      keepDir = true
      throw new CliError(
        `pending: tally ${pendingTally.tallyId} — the merchant could not tell us yet whether it opened it; ` +
          `run "taleus dial --data-dir ${dataDir}" to check again`
      )
    }
    if (outcome === undefined) return undefined
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
    if (tempDir !== undefined && !keepDir) await rm(tempDir, { recursive: true, force: true }).catch(() => {})
  }
}

type DialService = Pick<ConsoleService, 'listTallies' | 'checkPendingTallies'>

/** Asks about the tallies an earlier run left pending and says what became of them; returns how many stay pending. */
async function settleEarlier(service: DialService): Promise<number> {
  const before = (await service.listTallies()).filter((t) => t.status === 'pending')
  if (before.length === 0) return 0
  process.stderr.write(`taleus: ${before.length} tally(ies) left pending by an earlier run; checking…\n`)
  const still = new Set((await service.checkPendingTallies()).map((t) => t.tallyId))
  const now = new Map((await service.listTallies()).map((t) => [t.tallyId, t.status]))
  for (const t of before) {
    const status = still.has(t.tallyId) ? 'pending' : (now.get(t.tallyId) ?? 'pending')
    process.stderr.write(
      `taleus: tally ${printable(t.tallyId)}: ${status === 'pending' ? 'still pending (the merchant did not answer)' : status}\n`
    )
  }
  return still.size
}

/** Asks the merchant about one pending tally a few times (backing off); its view once settled, or still pending. */
async function askUntilSettled(service: DialService, tallyId: string): Promise<TallyView | undefined> {
  for (let i = 0; i < PENDING_TRIES; i++) {
    await service.checkPendingTallies()
    const tally = (await service.listTallies()).find((t) => t.tallyId === tallyId)
    if (tally === undefined || tally.status !== 'pending') return tally
    await new Promise((res) => setTimeout(res, 500 * 2 ** i))
  }
  return (await service.listTallies()).find((t) => t.tallyId === tallyId)
}

/** The one-line human form of a successful dial. */
export function describeDial(outcome: Extract<DialOutcome, { ok: true }>): string {
  // the outcome's role is the merchant's (the link's): say ours in plain words
  const you = roleSentence(outcome.role, 'outbound').replace(/^You/, 'you').replace(/\.$/, '')
  // the merchant named the tally and the peer: escaped here, where a newline in them would start a line
  return `bootstrapped tally ${printable(outcome.tallyId)} with ${printable(outcome.remotePeerId)}: ${you}`
}

export type { ReasonCode }
