/**
 * The console service: one node, its store and its SessionManager behind the TaleusApi contract. Shared by
 * the Electron main process and `taleus serve`.
 */
import { randomUUID } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Connection, Libp2p, PeerId, PeerInfo } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type {
  ApprovalView,
  AuditQuery,
  PageQuery,
  ConsoleEvent,
  CreateTokenInput,
  CreatedToken,
  Decision,
  DecisionResult,
  DialInput,
  DialOutcome,
  NodeInfo,
  PeerView,
  SessionEvent,
  SessionView,
  TaleusApi,
  TallyView,
  TokenView
} from '../../preload/contract.ts'
import { ApiError } from '../api/api-error.ts'
import { RejectedError, SessionManager, parseLink } from '../bootstrap/index.ts'
import type { BootstrapLink, SessionManagerConfig } from '../bootstrap/types.ts'
import { createTaleusNode, loadOrCreatePrivateKey } from '../node/index.ts'
import { openStore } from '../store/index.ts'
import { pageOf } from '../store/paging.ts'
import type { MerchantStore } from '../store/types.ts'
import { EventBatcher } from './event-batcher.ts'
import { benchEnabled, emitSyntheticSessions, parseSyntheticEvents } from './bench-sessions.ts'
import type { SyntheticSessionsInput } from './bench-sessions.ts'
import { describeFailure } from './reason-messages.ts'
import { SessionTable } from './session-table.ts'
import { asCadre, cadreLinkAddrs, openCadre } from './cadre.ts'
import { OperatorDesk } from './operator-desk.ts'
import { PeerTable } from './peer-table.ts'
import { tokenLink } from './token-links.ts'
import { SYSTEM_CALL } from './operations.ts'
import type { CallContext } from './operations.ts'
import { restoreSessions } from './session-history.ts'
import type {
  Actor,
  AuditVerifyResult,
  DisplayView,
  ExportInput,
  ExportResult,
  OperationView,
  TallyDetail,
  TallyQuery,
  TokenQuery
} from '../../preload/contract.ts'
import { ProposalError, TallyDb, UnknownTallyDocumentError } from '../tallydb/index.ts'
import type { TallyDocumentView, TallyTerms, TermsProposal } from '../tallydb/index.ts'
import { VerdictService } from '../bootstrap/verdict-service.ts'
import { VerdictRecovery } from './verdict-recovery.ts'

/** Options of createConsoleService. */
export interface ConsoleServiceInit {
  /** Folder of the store and the peer key (created if missing). */
  dataDir: string
  /** Listen multiaddrs. Default ['/ip4/0.0.0.0/tcp/0']: customers reach a merchant over the LAN. */
  listen?: string[]
  /** Discover peers on the LAN. Default true. */
  mdns?: boolean
  sessionTimeoutMs?: number
  stepTimeoutMs?: number
  maxConcurrentSessions?: number
  /** Finished session rows kept in the live table. Default 5000. */
  maxSessionRows?: number
  /** Longest an event waits before a subscriber gets it. Default 50. */
  eventIntervalMs?: number
  /** Serve and open the shared tally documents (issue I). Default true; false: the bootstrap alone (bench). */
  tallyDb?: boolean
  /**
   * Where the store lives: a postgres:// URL shares one store with the merchant's other nodes (a cadre,
   * see docs/architecture.md). Default: env TALEUS_STORE if it is such a URL, else the lowdb store in dataDir.
   */
  store?: string
  /** The shell running this node, named in the audit trail's node-start and node-stop. Default `system`. */
  actor?: Actor
  /** Backoff of the verdict queries of pending tallies (ms). Default 1 s doubling up to 5 min. */
  verdictRetry?: { initialMs?: number; maxMs?: number }
}

/** The running console: the whole TaleusApi plus its lifecycle. */
export interface ConsoleService extends TaleusApi {
  start(): Promise<void>
  /** Stop the manager (sessions end), the node and the store; safe to call twice. */
  stop(): Promise<void>
  readonly peerId: string
  /** Dialable addresses of this node, each ending in /p2p/<peerId>. */
  multiaddrs(): string[]
  /** Load tests only: push synthetic sessions through the live table and event stream; refused unless TALEUS_BENCH=1. */
  injectSyntheticSessions(input: SyntheticSessionsInput): Promise<{ injected: number }>
  /**
   * Asks every pending tally's counterparty once, now; resolves with the tallies still pending after that
   * (their counterparty unreachable or not sure yet), each with its next try.
   */
  checkPendingTallies(): Promise<TallyView[]>
  /** Load tests only: push caller-paced synthetic SessionEvents through the live table and event stream; refused unless TALEUS_BENCH=1. */
  injectSessionEvents?(input: { events: SessionEvent[] }): Promise<{ injected: number }>
}

/** Every interface, any free port. */
const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/0']

/** Longest our cached addresses are used without asking libp2p again (a missed change heals this fast). */
const ADDR_CACHE_MS = 1000

/** Finished dials whose outcome waitDial can still return. */
const MAX_KEPT_DIALS = 1000

/** Create the service for `init.dataDir`; nothing listens until start(). */
export async function createConsoleService(init: ConsoleServiceInit): Promise<ConsoleService> {
  await mkdir(init.dataDir, { recursive: true, mode: 0o700 })
  const local = await loadOrCreatePrivateKey(join(init.dataDir, 'peer.key'))
  // a cadre store comes first: it holds the merchant's key every node of the cadre presents
  const { key, store } = await openCadre(init.store, init.dataDir, local)
  return new Service(init, key, store)
}

type PrivateKey = Awaited<ReturnType<typeof loadOrCreatePrivateKey>>

class Service implements ConsoleService {
  private readonly batcher: EventBatcher
  private readonly desk: OperatorDesk
  private readonly sessions: SessionTable
  private readonly dials = new Map<string, Promise<DialOutcome>>()
  private readonly peers = new PeerTable()
  private readonly shutdown = new AbortController()
  private readonly mdns: boolean
  private store: MerchantStore | undefined
  private node: Libp2p | undefined
  private manager: SessionManager | undefined
  /** The shared tally database (issue I). */
  private tallyDb: TallyDb | undefined
  private verdicts: VerdictService | undefined
  private recovery: VerdictRecovery | undefined
  private startedAt = 0
  /** This node's multiaddrs as text, dropped when libp2p says they changed (and after ADDR_CACHE_MS). */
  private addrCache: { at: number; addrs: string[] } | undefined
  private starting: Promise<void> | undefined
  private stopping: Promise<void> | undefined
  private tearingDown: Promise<void> | undefined
  private readonly detach: Array<() => void> = []
  readonly peerId: string

  constructor(
    private readonly init: ConsoleServiceInit,
    private readonly privateKey: PrivateKey,
    /** A store opened already (the cadre's); default: the lowdb store of dataDir, opened by start(). */
    private readonly opened?: MerchantStore
  ) {
    this.mdns = init.mdns ?? true
    this.batcher = new EventBatcher({ intervalMs: init.eventIntervalMs })
    this.sessions = new SessionTable(
      init.maxSessionRows ?? 5000,
      (tokenId) => this.store?.getToken(tokenId)?.label
    )
    this.peerId = peerIdOfKey(privateKey)
    this.desk = new OperatorDesk({
      store: () => this.running().store,
      linkFor: (view, token) => this.linkFor(view, token),
      pushDisplay: (display) => this.batcher.push({ kind: 'display', display })
    })
    // Every dial links its session signal to this one.
    setMaxListeners(Infinity, this.shutdown.signal)
  }

  start(): Promise<void> {
    if (this.stopping !== undefined) return Promise.reject(new Error('the console service was stopped'))
    this.starting ??= this.doStart()
    return this.starting
  }

  private async doStart(): Promise<void> {
    const store = this.opened ?? (await openStore(this.init.dataDir))
    this.store = store
    try {
      await store.recover()
      // the Sessions screen starts with the newest sessions of earlier runs
      if (store.queryAuditRecords !== undefined)
        await restoreSessions(
          { queryAuditRecords: store.queryAuditRecords.bind(store) },
          this.sessions,
          this.init.maxSessionRows ?? 5000
        )
      this.listen(store, 'token', (detail: TokenView) => {
        this.batcher.push({ kind: 'token', token: detail })
        // revoked on another node of the cadre: this node's sessions on the token end too
        if (detail.revoked)
          this.manager?.abortSessions({ tokenId: detail.tokenId }, new RejectedError('token-revoked'))
      })
      // the cadre's one console: the sessions the other nodes serve, live
      this.listen(store, 'remote-session', (detail: SessionEvent & { node: string }) =>
        this.onSessionEvent(detail, detail.node)
      )
      this.listen(store, 'tally', (detail: TallyView) => {
        // a tally that just became pending is asked about; its view then says when
        this.recovery?.track(detail)
        this.batcher.push({ kind: 'tally', tally: this.withNextCheck(detail) })
      })
      this.listen(store, 'approval', (detail: ApprovalView) => {
        this.batcher.push({ kind: 'approval', approval: detail })
        this.desk.displays.onApproval(detail)
      })
      this.listen(
        store,
        'approval-resolved',
        (detail: { sessionId: string; decision: Decision | 'timeout' }) =>
          this.batcher.push({
            kind: 'approval-resolved',
            sessionId: detail.sessionId,
            decision: detail.decision
          })
      )

      const node = await createTaleusNode({
        listen: this.init.listen ?? DEFAULT_LISTEN,
        mdns: this.mdns,
        privateKey: this.privateKey
      })
      this.node = node
      const grantKey = store.grantKey?.()
      if (this.init.tallyDb !== false && grantKey !== undefined && store.attachTallyDb !== undefined) {
        const tallyDb = await TallyDb.open({
          dir: join(this.init.dataDir, 'tallydb'),
          libp2p: node,
          grantKey,
          // a long-running node: its first customers should not pay the document engine's warm-up
          warmUp: true
        })
        this.tallyDb = tallyDb
        store.attachTallyDb(tallyDb)
        this.listen(tallyDb, 'change', (detail: { tallyId: string }) =>
          this.batcher.push({ kind: 'tally-document', tallyId: detail.tallyId })
        )
        this.listen(tallyDb, 'sync', (detail: { tallyId: string; connected: boolean }) =>
          this.batcher.push({ kind: 'tally-document', tallyId: detail.tallyId, connected: detail.connected })
        )
      }
      this.listen(node, 'self:peer:update', () => {
        this.addrCache = undefined
      })
      // libp2p also raises peer:discovery for peers learnt over a connection (identify); only a peer
      // found while not connected to it can have come from mDNS.
      this.listen(node, 'peer:discovery', (info: PeerInfo) => {
        const id = info.id.toString()
        const fromMdns = this.mdns && node.getConnections(info.id).length === 0
        this.updatePeer(id, info.multiaddrs.map(String), fromMdns ? 'mdns' : 'connection', info.id)
      })
      this.listen(node, 'connection:open', (conn: Connection) =>
        this.updatePeer(
          conn.remotePeer.toString(),
          [conn.remoteAddr.toString()],
          'connection',
          conn.remotePeer
        )
      )
      this.listen(node, 'connection:close', (conn: Connection) =>
        this.updatePeer(conn.remotePeer.toString(), [], 'connection', conn.remotePeer)
      )

      const config: Partial<SessionManagerConfig> = { cadrePeerAddrs: () => this.multiaddrs() }
      if (this.init.sessionTimeoutMs !== undefined) config.sessionTimeoutMs = this.init.sessionTimeoutMs
      if (this.init.stepTimeoutMs !== undefined) config.stepTimeoutMs = this.init.stepTimeoutMs
      if (this.init.maxConcurrentSessions !== undefined)
        config.maxConcurrentSessions = this.init.maxConcurrentSessions
      const manager = new SessionManager(
        store.hooks({ peerId: this.peerId, multiaddrs: () => this.multiaddrs() }),
        config
      )
      this.manager = manager
      this.listen(manager, 'session', (event: SessionEvent) => this.onSessionEvent(event))
      if (node.status !== 'started') await node.start()
      this.addrCache = undefined
      await manager.start(node)
      await asCadre(store)?.announce(() => this.multiaddrs())
      await this.tallyDb?.start()
      const verdicts = new VerdictService({
        lookupVerdict: async (tallyId, remotePeerId) => store.verdictFor(tallyId, remotePeerId)
      })
      this.verdicts = verdicts
      await verdicts.start(node)
      const recovery = new VerdictRecovery({ store, node, verdicts, ...this.init.verdictRetry })
      this.recovery = recovery
      recovery.start()
      this.startedAt = Date.now()
      store.recordOperation?.({ op: 'node-start', actor: this.init.actor ?? 'system', at: this.startedAt })
    } catch (err) {
      // Not stop(): that waits for this very start to finish.
      this.stopping ??= this.teardownOnce()
      await this.teardownOnce().catch(() => {})
      throw err
    }
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop()
    return this.stopping
  }

  private async doStop(): Promise<void> {
    await this.starting?.catch(() => {})
    await this.teardownOnce()
  }

  private teardownOnce(): Promise<void> {
    this.tearingDown ??= this.teardown()
    return this.tearingDown
  }

  private async teardown(): Promise<void> {
    this.shutdown.abort()
    const errors: unknown[] = []
    if (this.startedAt > 0)
      this.store?.recordOperation?.({ op: 'node-stop', actor: this.init.actor ?? 'system', at: Date.now() })
    await settle(this.recovery?.stop(), errors)
    await settle(this.verdicts?.stop(), errors)
    await settle(this.manager?.stop(), errors)
    // Dials end once the manager and node stop; give their outcomes a chance to settle.
    await Promise.race([Promise.allSettled(this.dials.values()), delay(2000)])
    this.store?.attachTallyDb?.(undefined)
    await settle(this.tallyDb?.close(), errors)
    await settle(this.node?.stop(), errors)
    for (const off of this.detach.splice(0)) off()
    this.batcher.close()
    await settle(this.store?.close(), errors)
    if (errors.length > 0) throw errors[0]
  }

  multiaddrs(): string[] {
    const node = this.node
    if (node === undefined) return []
    const now = Date.now()
    // every session discloses our cadre and names our addresses in its tally: libp2p's address manager
    // recomputes them from scratch on each call (1.5 % of a rush's CPU), so they are cached until they change
    if (this.addrCache === undefined || now - this.addrCache.at > ADDR_CACHE_MS) {
      const suffix = `/p2p/${this.peerId}`
      const addrs = node.getMultiaddrs().map((ma) => {
        const text = ma.toString()
        return text.endsWith(suffix) ? text : `${text}${suffix}`
      })
      this.addrCache = { at: now, addrs }
    }
    return this.addrCache.addrs.slice()
  }

  subscribe(onBatch: (events: ConsoleEvent[]) => void): () => void {
    return this.batcher.subscribe(onBatch)
  }

  async getNodeInfo(): Promise<NodeInfo> {
    const { node, manager } = this.running()
    return {
      peerId: this.peerId,
      multiaddrs: this.multiaddrs(),
      dataDir: this.init.dataDir,
      startedAt: this.startedAt,
      mdns: this.mdns,
      activeListeners: manager.getActiveListenerCount(),
      activeDialers: manager.getActiveDialerCount(),
      connections: node.getConnections().length
    }
  }

  async listTokens(input?: TokenQuery): Promise<TokenView[]> {
    return this.desk.listTokens(input)
  }

  async createToken(input: CreateTokenInput, ctx?: CallContext): Promise<CreatedToken> {
    const { store } = this.running()
    const { view, token } = await store.createToken(input)
    this.desk.record('token-create', ctx, { tokenId: view.tokenId })
    return { ...view, link: this.linkFor(view, token) }
  }

  async getTokenLink(input: { tokenId: string }): Promise<{ tokenId: string; link: string }> {
    const { store } = this.running()
    const view = store.getToken(input.tokenId)
    if (view === undefined) throw new ApiError('not-found', 404, 'no such token on this node')
    return { tokenId: view.tokenId, link: this.linkFor(view, store.tokenSecret(view.tokenId)) }
  }

  async revokeToken(input: { tokenId: string }, ctx?: CallContext): Promise<TokenView> {
    const { store, manager } = this.running()
    if (store.getToken(input.tokenId) === undefined)
      throw new ApiError('not-found', 404, 'no such token on this node')
    const view = await store.revokeToken(input.tokenId)
    // sessions already past the token check would otherwise still confirm: end them before answering
    manager.abortSessions({ tokenId: input.tokenId }, new RejectedError('token-revoked'))
    this.desk.record('token-revoke', ctx, { tokenId: input.tokenId })
    return view
  }

  async listSessions(input?: PageQuery): Promise<SessionView[]> {
    return pageOf(
      this.sessions.list(),
      (s) => s.startedAt,
      (s) => s.sessionId,
      input ?? {}
    )
  }

  /** The session's transitions from the audit trail, oldest first. */
  async getSessionEvents(input: { sessionId: string }): Promise<SessionEvent[]> {
    return this.running().store.listAudit({ sessionId: input.sessionId, limit: 1000 }).reverse()
  }

  async listApprovals(): Promise<ApprovalView[]> {
    return this.running().store.listApprovals()
  }

  async decide(input: { sessionId: string; decision: Decision }, ctx?: CallContext): Promise<DecisionResult> {
    const result = await this.running().store.decide(input.sessionId, input.decision)
    if (!result.applied && this.sessions.get(input.sessionId) === undefined)
      throw new ApiError('unknown-session', 404, 'no session with that id on this node')
    const detail = { applied: result.applied }
    this.desk.record(input.decision, ctx, { sessionId: input.sessionId, detail })
    return result
  }

  async listTallies(input?: TallyQuery): Promise<TallyView[]> {
    return this.desk.listTallies(input).map((t) => this.withNextCheck(t))
  }

  async checkPendingTallies(): Promise<TallyView[]> {
    const { store } = this.running()
    await this.recovery?.checkAll()
    return store.pendingTallies().map((t) => this.withNextCheck(t))
  }

  /** A pending tally's view says when its counterparty is asked next. */
  private withNextCheck(view: TallyView): TallyView {
    if (view.status !== 'pending') return view
    const next = this.recovery?.nextCheckAt(view.tallyId)
    return next === undefined ? view : { ...view, nextCheckAt: next }
  }

  async dial(input: DialInput): Promise<{ sessionId: string }> {
    const { node, manager } = this.running()
    let link: BootstrapLink
    try {
      link = parseLink(input.link)
    } catch (err) {
      // InvalidLinkError messages are written for users and never quote the token.
      const message =
        err instanceof Error && err.name === 'InvalidLinkError' ? err.message : 'this is not a Taleus link'
      throw new ApiError('invalid-link', 400, message, { cause: err })
    }
    const sessionId = randomUUID()
    const outcome = manager
      .initiateBootstrap(link, node, {
        sessionId,
        signal: this.shutdown.signal,
        ...(input.identity === undefined ? {} : { identityBundle: input.identity })
      })
      .then(
        (result): DialOutcome => ({
          sessionId,
          ok: true,
          tallyId: result.tally.tallyId,
          role: result.role,
          remotePeerId: result.remotePeerId
        }),
        (err: unknown): DialOutcome => ({ sessionId, ok: false, ...describeFailure(err) })
      )
      .then((result) => {
        this.batcher.push({ kind: 'dial-result', outcome: result })
        return result
      })
    this.dials.set(sessionId, outcome)
    void outcome.then(() => this.pruneDials())
    return { sessionId }
  }

  async waitDial(input: { sessionId: string }): Promise<DialOutcome> {
    const outcome = this.dials.get(input.sessionId)
    if (outcome === undefined) throw new ApiError('not-found', 404, 'no dial with that session id')
    return outcome
  }

  async listAudit(input: AuditQuery): Promise<SessionEvent[]> {
    return this.running().store.listAudit(input ?? {})
  }

  async injectSyntheticSessions(input: SyntheticSessionsInput): Promise<{ injected: number }> {
    if (!benchEnabled()) throw new ApiError('not-found', 404, 'no such API path')
    this.running()
    const count = (input as { count?: unknown } | undefined)?.count
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 10_000)
      throw new ApiError('bad-input', 400, 'count: an integer from 1 to 10000')
    return emitSyntheticSessions({ count }, (event) => this.onSessionEvent(event), {
      signal: this.shutdown.signal
    })
  }

  async injectSessionEvents(input: { events: SessionEvent[] }): Promise<{ injected: number }> {
    if (!benchEnabled()) throw new ApiError('not-found', 404, 'no such API path')
    this.running()
    const events = parseSyntheticEvents(input)
    if (events === undefined) throw new ApiError('bad-input', 400, 'events: up to 300 SessionEvents')
    for (const event of events) this.onSessionEvent(event)
    return { injected: events.length }
  }

  async getTallyDocument(input: { tallyId: string }): Promise<TallyDocumentView> {
    const db = this.tallyDatabase()
    // reach the counterparty first when we can, briefly, so the view is as fresh as it gets
    await db.sync(input.tallyId, { signal: AbortSignal.timeout(TALLY_SYNC_WAIT_MS) }).catch(() => false)
    const view = await db.read(input.tallyId)
    if (view === undefined)
      throw new ApiError('not-found', 404, 'no shared document for this tally on this node')
    return view
  }

  async proposeTerms(input: { tallyId: string; terms: TallyTerms }): Promise<TermsProposal> {
    const db = this.tallyDatabase()
    const proposal = await db.propose(input.tallyId, input.terms).catch(tallyDbError)
    void db.sync(input.tallyId, { signal: AbortSignal.timeout(TALLY_SYNC_WAIT_MS) }).catch(() => false)
    return proposal
  }

  async acceptProposal(input: { tallyId: string; proposalId: string }): Promise<TermsProposal> {
    const db = this.tallyDatabase()
    // the counterparty's newest proposals first, when it is reachable
    await db.sync(input.tallyId, { signal: AbortSignal.timeout(TALLY_SYNC_WAIT_MS) }).catch(() => false)
    const accepted = await db.accept(input.tallyId, input.proposalId).catch(tallyDbError)
    return accepted
  }

  private tallyDatabase(): TallyDb {
    this.running()
    if (this.tallyDb === undefined)
      throw new ApiError('not-running', 503, 'the tally database is not running')
    return this.tallyDb
  }

  async verifyAudit(): Promise<AuditVerifyResult> {
    return this.desk.verifyAudit()
  }

  async listOperations(input?: { limit?: number; before?: number }): Promise<OperationView[]> {
    return this.desk.listOperations(input)
  }

  async getTally(input: { tallyId: string }): Promise<TallyDetail> {
    return this.desk.getTally(input.tallyId)
  }

  async archiveToken(input: { tokenId: string }, ctx?: CallContext): Promise<TokenView> {
    return this.desk.archiveToken(input.tokenId, ctx)
  }

  async exportRows(input: ExportInput, ctx?: CallContext): Promise<ExportResult> {
    return this.desk.exportRows(input, ctx)
  }

  async getDisplay(input: { displayId: string }): Promise<DisplayView> {
    this.running()
    return this.desk.displays.get(input.displayId)
  }

  async closeDisplay(input: { displayId: string }, ctx?: CallContext): Promise<DisplayView> {
    this.running()
    return this.desk.displays.close(input.displayId, (tokenId) => this.revokeToken({ tokenId }, ctx))
  }

  async listPeers(): Promise<PeerView[]> {
    return this.peers.list()
  }

  private running(): { node: Libp2p; manager: SessionManager; store: MerchantStore } {
    const { node, manager, store } = this
    if (node === undefined || manager === undefined || store === undefined || this.stopping !== undefined) {
      throw new ApiError('not-running', 503, 'the node is not running')
    }
    return { node, manager, store }
  }

  private linkFor(view: TokenView, token: string): string {
    // LAN addresses first: a customer's phone cannot reach our loopback. Fewer addresses keep the QR small.
    return tokenLink(view, token, cadreLinkAddrs(this.multiaddrs(), asCadre(this.store)?.cadreAddrs() ?? []))
  }

  /** `node`: the cadre node serving the session (default: this one; none for a lowdb store). */
  private onSessionEvent(event: SessionEvent, node = asCadre(this.store)?.node): void {
    const session = this.sessions.apply(event, node)
    this.batcher.push({ kind: 'session', session, event })
    // events after the first may not repeat the token: the row has it
    if (session.tokenId !== undefined && this.store !== undefined)
      this.desk.displays.onSession({ ...event, tokenId: session.tokenId }, (created) =>
        this.desk.record('token-create', SYSTEM_CALL, {
          tokenId: created.tokenId,
          detail: { display: created.displayId ?? '' }
        })
      )
  }

  private updatePeer(
    peerId: string,
    multiaddrs: string[],
    source: PeerView['source'],
    id: PeerId = peerIdFromString(peerId)
  ): void {
    if (peerId === this.peerId) return
    // by peer: a scan of every connection per connection event is quadratic in a rush of 1000 customers
    const connected = (this.node?.getConnections(id).length ?? 0) > 0
    const peer = this.peers.update(peerId, multiaddrs, source, connected)
    this.batcher.push({ kind: 'peer', peer })
  }

  private pruneDials(): void {
    if (this.dials.size <= MAX_KEPT_DIALS) return
    for (const id of this.dials.keys()) {
      if (this.dials.size <= MAX_KEPT_DIALS) break
      const row = this.sessions.get(id)
      if (row === undefined || row.done) this.dials.delete(id)
    }
  }

  /** addEventListener for a CustomEvent, removed again on stop. */
  private listen<T>(target: EventTarget, type: string, handler: (detail: T) => void): void {
    const listener = (evt: Event): void => handler((evt as CustomEvent<T>).detail)
    target.addEventListener(type, listener)
    this.detach.push(() => target.removeEventListener(type, listener))
  }
}

/** Longest an API call waits to reach a tally's counterparty before answering from the local replica. */
const TALLY_SYNC_WAIT_MS = 3000

/** The tally database's refusals as API errors. */
function tallyDbError(err: unknown): never {
  if (err instanceof UnknownTallyDocumentError)
    throw new ApiError('not-found', 404, 'no shared document for this tally on this node', { cause: err })
  if (err instanceof ProposalError) throw new ApiError('bad-input', 400, err.message, { cause: err })
  throw err
}

function peerIdOfKey(key: PrivateKey): string {
  return peerIdFromPrivateKey(key).toString()
}

/** Await a maybe-promise, collecting its failure instead of throwing. */
async function settle(result: unknown, errors: unknown[]): Promise<void> {
  try {
    await result
  } catch (err) {
    errors.push(err)
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}
