/** Test helpers for the protocol integration tests: real nodes on 127.0.0.1 and in-memory hooks. */
import type { Libp2p } from '@libp2p/interface'
import { createTaleusNode } from '../../main/node/index.ts'
import { RejectedError, SessionManager, isTerminalState } from '../../main/bootstrap/index.ts'
import type {
  BootstrapLink,
  HookContext,
  PartyRole,
  ProvisionResult,
  SessionEvent,
  SessionHooks,
  SessionManagerInit,
  TallySettlement,
  IdentityRequirements,
  TokenHookContext,
  TokenInfo
} from '../../main/bootstrap/index.ts'

/** A token known to MemoryHooks. */
export interface MemoryToken {
  token: string
  info: TokenInfo
  /** Uses left; undefined = unlimited. */
  uses?: number
}

/** A replacement for one hook in fault-injection tests (arguments as the hook receives them). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type HookOverride = (...args: any[]) => Promise<unknown>

/** In-memory hooks that record what happened, with per-hook overrides for fault injection. */
export class MemoryHooks implements SessionHooks {
  readonly tokens = new Map<string, MemoryToken>()
  readonly tallies = new Map<string, { result: ProvisionResult; status: 'draft' | TallySettlement }>()
  readonly events: SessionEvent[] = []
  readonly released: string[] = []
  readonly calls: string[] = []
  override: Partial<Record<keyof SessionHooks, HookOverride>> = {}

  constructor(readonly name: string) {}

  addToken(token: string, role: PartyRole, extra: Partial<TokenInfo> = {}, uses?: number): MemoryToken {
    const entry: MemoryToken = { token, info: { tokenId: `id-${token.slice(0, 4)}`, role, ...extra }, uses }
    this.tokens.set(token, entry)
    return entry
  }

  async validateToken(token: string, ctx: HookContext): Promise<TokenInfo> {
    this.calls.push('validateToken')
    if (this.override.validateToken != null)
      return (await this.override.validateToken(token, ctx)) as TokenInfo
    const entry = this.tokens.get(token)
    if (entry == null) throw new RejectedError('invalid-token')
    if (entry.uses === 0) throw new RejectedError('token-used')
    return entry.info
  }

  async validateIdentity(
    bundle: Record<string, string>,
    requirements: IdentityRequirements | undefined,
    ctx: TokenHookContext
  ): Promise<boolean> {
    this.calls.push('validateIdentity')
    if (this.override.validateIdentity != null)
      return (await this.override.validateIdentity(bundle, requirements, ctx)) as boolean
    return bundle.blocked !== 'yes'
  }

  async markTokenUsed(token: string, sessionId: string, ctx: TokenHookContext): Promise<void> {
    this.calls.push('markTokenUsed')
    if (this.override.markTokenUsed != null) {
      await this.override.markTokenUsed(token, sessionId, ctx)
      return
    }
    const entry = this.tokens.get(token)
    if (entry?.uses != null) {
      if (entry.uses <= 0) throw new RejectedError('token-used')
      entry.uses--
    }
  }

  async releaseToken(token: string, _sessionId: string, ctx: TokenHookContext): Promise<void> {
    this.calls.push('releaseToken')
    this.released.push(ctx.token.tokenId)
    const entry = this.tokens.get(token)
    if (entry?.uses != null) entry.uses++
  }

  async provisionDatabase(
    role: PartyRole,
    initiatorPeerId: string,
    respondentPeerId: string,
    sessionId: string,
    ctx: HookContext
  ): Promise<ProvisionResult> {
    this.calls.push('provisionDatabase')
    if (this.override.provisionDatabase != null) {
      return (await this.override.provisionDatabase(
        role,
        initiatorPeerId,
        respondentPeerId,
        sessionId,
        ctx
      )) as ProvisionResult
    }
    const result: ProvisionResult = {
      tally: {
        tallyId: `tally-${ctx.sessionId}`,
        createdBy: role,
        initiatorPeerId,
        respondentPeerId,
        createdAt: new Date().toISOString()
      },
      dbConnectionInfo: { nodes: ['/ip4/127.0.0.1/tcp/1'], credentials: `cred-${this.name}` }
    }
    this.tallies.set(result.tally.tallyId, { result, status: 'draft' })
    return result
  }

  async validateResponse(response: unknown, ctx: HookContext): Promise<boolean> {
    this.calls.push('validateResponse')
    if (this.override.validateResponse != null)
      return (await this.override.validateResponse(response, ctx)) as boolean
    const r = response as { provisionResult?: ProvisionResult }
    if (r.provisionResult != null)
      this.tallies.set(r.provisionResult.tally.tallyId, { result: r.provisionResult, status: 'draft' })
    return true
  }

  async validateDatabaseResult(result: ProvisionResult, ctx: HookContext): Promise<boolean> {
    this.calls.push('validateDatabaseResult')
    if (this.override.validateDatabaseResult != null)
      return (await this.override.validateDatabaseResult(result, ctx)) as boolean
    this.tallies.set(result.tally.tallyId, { result, status: 'draft' })
    return true
  }

  async settleTally(tallyId: string, outcome: TallySettlement, ctx: HookContext): Promise<void> {
    this.calls.push(`settleTally:${outcome}`)
    if (this.override.settleTally != null) {
      await this.override.settleTally(tallyId, outcome, ctx)
    }
    const tally = this.tallies.get(tallyId)
    if (tally != null) tally.status = outcome
  }

  async logSessionEvent(_sessionId: string, event: SessionEvent): Promise<void> {
    this.events.push(event)
  }
}

/** Waits until `manager` emits a terminal event for a session matching `filter`. */
export function nextTerminal(
  manager: SessionManager,
  filter: (e: SessionEvent) => boolean = () => true
): Promise<SessionEvent> {
  return new Promise((resolve) => {
    const onEvent = (evt: CustomEvent<SessionEvent>): void => {
      if (isTerminalState(evt.detail.state) && filter(evt.detail)) {
        manager.removeEventListener('session', onEvent)
        resolve(evt.detail)
      }
    }
    manager.addEventListener('session', onEvent)
  })
}

/** Collects every event `manager` emits. */
export function recordEvents(manager: SessionManager): SessionEvent[] {
  const events: SessionEvent[] = []
  manager.addEventListener('session', (evt) => events.push(evt.detail))
  return events
}

/** Two nodes: A listens with a SessionManager, B dials with its own. */
export interface Pair {
  a: Libp2p
  b: Libp2p
  hooksA: MemoryHooks
  hooksB: MemoryHooks
  managerA: SessionManager
  managerB: SessionManager
  link(token: string, role: PartyRole, extra?: Partial<BootstrapLink>): BootstrapLink
  close(): Promise<void>
}

/** Builds a Pair; `configA`/`configB` override the managers' configs. */
export async function makePair(
  configA: SessionManagerInit = {},
  configB: SessionManagerInit = {}
): Promise<Pair> {
  const a = await createTaleusNode()
  const b = await createTaleusNode()
  const hooksA = new MemoryHooks('A')
  const hooksB = new MemoryHooks('B')
  const managerA = new SessionManager(hooksA, { stepTimeoutMs: 2000, sessionTimeoutMs: 10_000, ...configA })
  const managerB = new SessionManager(hooksB, { stepTimeoutMs: 2000, sessionTimeoutMs: 10_000, ...configB })
  await managerA.start(a)
  return {
    a,
    b,
    hooksA,
    hooksB,
    managerA,
    managerB,
    link: (token, role, extra = {}) => ({
      token,
      role,
      responderPeerAddrs: a.getMultiaddrs().map(String),
      ...extra
    }),
    async close() {
      await managerB.stop()
      await managerA.stop()
      await Promise.all([a.stop(), b.stop()])
    }
  }
}

/** A free TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function deadPort(): Promise<number> {
  const { createServer } = await import('node:net')
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address != null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** A promise with its resolve exposed, to hold a hook until the test lets it go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

/** Sends raw frame bodies from `from` to A's bootstrap protocol and collects A's replies until EOF. */
export async function rawExchange(
  from: Libp2p,
  to: Libp2p,
  bodies: Uint8Array[]
): Promise<{ replies: Array<Record<string, unknown>>; reset: boolean }> {
  const { lpStream } = await import('@libp2p/utils')
  const { PROTOCOL_ID } = await import('../../main/bootstrap/index.ts')
  const stream = await from.dialProtocol(to.getMultiaddrs()[0]!, PROTOCOL_ID)
  const lp = lpStream(stream, { maxDataLength: 1024 * 1024 })
  for (const body of bodies) await lp.write(body)
  const replies: Array<Record<string, unknown>> = []
  let reset = false
  for (;;) {
    try {
      const frame = await lp.read({ signal: AbortSignal.timeout(10_000) })
      replies.push(JSON.parse(new TextDecoder().decode(frame.subarray())) as Record<string, unknown>)
    } catch (err) {
      reset = (err as Error).name !== 'UnexpectedEOFError' || stream.status === 'reset'
      break
    }
  }
  try {
    await stream.close()
  } catch {
    // already gone
  }
  return { replies, reset }
}

/** UTF-8 bytes of `value` (JSON-encoded unless already a string). */
export function bytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value))
}

/** Resolves once `manager` runs no session (event-driven, no timer). */
export function whenIdle(manager: SessionManager): Promise<void> {
  const idle = (): boolean => manager.getActiveListenerCount() + manager.getActiveDialerCount() === 0
  if (idle()) return Promise.resolve()
  return new Promise((resolve) => {
    const onEvent = (): void => {
      if (idle()) {
        manager.removeEventListener('session', onEvent)
        resolve()
      }
    }
    manager.addEventListener('session', onEvent)
  })
}
