/**
 * The console service: one node, its store and its SessionManager behind the TaleusApi contract. Shared by
 * the Electron main process and `taleus serve`.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type {
  ApprovalView,
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
  TallyView,
  TokenView
} from '../views/console-views.ts'
import type { AuditQuery, PageQuery } from '../views/console-queries.ts'
import { ApiError } from './api-error.ts'
import { RejectedError } from '../bootstrap/index.ts'
import { loadOrCreatePrivateKey } from '../node/index.ts'
import { pageOf } from '../store/paging.ts'
import { injectSessionEvents, injectSyntheticSessions } from './bench-api.ts'
import type { SyntheticSessionsInput } from './bench-sessions.ts'
import { openCadre } from './cadre.ts'
import {
  checkStore,
  readStoreSetting,
  resolveStoreTarget,
  saveStoreSetting,
  storeSettingView
} from './store-setting.ts'
import type { StoreTarget } from './store-setting.ts'
import type { CallContext } from './operations.ts'
import type { DisplayView, StoreSettingInput, StoreSettingView, TallyDetail } from '../views/console-views.ts'
import type {
  AuditVerifyResult,
  ExportInput,
  ExportResult,
  OperationView,
  TallyQuery,
  TokenQuery
} from '../views/console-queries.ts'
import type { TallyDb } from '../tallydb/index.ts'
import type { TallyDocumentView, TallyTerms, TermsProposal } from '../tallydb/index.ts'
import type { ConsoleService, ConsoleServiceInit } from './console-service-types.ts'
import { ConsoleRuntime } from './console-runtime.ts'
import { startDial } from './dial-table.ts'
import {
  acceptTallyProposal,
  closeTallyProposal,
  proposeTallyTerms,
  readTallyDocument
} from './tally-document-api.ts'

// the service's path stays the one import for its users
export type { ConsoleService, ConsoleServiceInit }

/** Create the service for `init.dataDir`; nothing listens until start(). */
export async function createConsoleService(init: ConsoleServiceInit): Promise<ConsoleService> {
  await mkdir(init.dataDir, { recursive: true, mode: 0o700 })
  const local = await loadOrCreatePrivateKey(join(init.dataDir, 'peer.key'))
  // a cadre store comes first: it holds the merchant's key every node of the cadre presents
  const target = resolveStoreTarget(
    init.store,
    process.env.TALEUS_STORE,
    await readStoreSetting(init.dataDir)
  )
  const { key, store } = await openCadre(target, init.dataDir, local)
  const service = new Service(init, key, store)
  service.storeTarget = target
  return service
}

/** The TaleusApi over the running node. */
class Service extends ConsoleRuntime implements ConsoleService {
  /** The store this node started on and what chose it (createConsoleService sets it). */
  storeTarget: StoreTarget = { source: 'default' }

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

  async dial(input: DialInput, ctx?: CallContext): Promise<{ sessionId: string }> {
    const { node, manager } = this.running()
    const { sessionId, outcome } = startDial(input, {
      node,
      manager,
      signal: this.shutdown.signal,
      push: (result) => this.batcher.push({ kind: 'dial-result', outcome: result })
    })
    this.dials.add(sessionId, outcome)
    // never the link: it carries the other party's token
    this.desk.record('dial', ctx, { sessionId })
    return { sessionId }
  }

  async waitDial(input: { sessionId: string }): Promise<DialOutcome> {
    return this.dials.wait(input.sessionId)
  }

  async listAudit(input: AuditQuery): Promise<SessionEvent[]> {
    return this.running().store.listAudit(input ?? {})
  }

  async injectSyntheticSessions(input: SyntheticSessionsInput): Promise<{ injected: number }> {
    const signal = this.shutdown.signal
    return injectSyntheticSessions(
      input,
      () => this.running(),
      (event) => this.onSessionEvent(event),
      { signal }
    )
  }

  async injectSessionEvents(input: { events: SessionEvent[] }): Promise<{ injected: number }> {
    return injectSessionEvents(
      input,
      () => this.running(),
      (event) => this.onSessionEvent(event)
    )
  }

  async getTallyDocument(input: { tallyId: string }): Promise<TallyDocumentView> {
    const db = this.tallyDatabase()
    return readTallyDocument(db, input.tallyId)
  }

  async proposeTerms(
    input: { tallyId: string; terms: TallyTerms },
    ctx?: CallContext
  ): Promise<TermsProposal> {
    const db = this.tallyDatabase()
    const proposal = await proposeTallyTerms(db, input.tallyId, input.terms)
    this.recordProposal('terms-propose', ctx, proposal, input.tallyId)
    return proposal
  }

  async acceptProposal(
    input: { tallyId: string; proposalId: string },
    ctx?: CallContext
  ): Promise<TermsProposal> {
    const db = this.tallyDatabase()
    const accepted = await acceptTallyProposal(db, input.tallyId, input.proposalId)
    this.recordProposal('terms-accept', ctx, accepted, input.tallyId)
    return accepted
  }

  async closeProposal(
    input: { tallyId: string; proposalId: string; how: 'withdrawn' | 'declined' },
    ctx?: CallContext
  ): Promise<TermsProposal> {
    const closed = await closeTallyProposal(this.tallyDatabase(), input.tallyId, input.proposalId, input.how)
    this.recordProposal(
      input.how === 'withdrawn' ? 'terms-withdraw' : 'terms-decline',
      ctx,
      closed,
      input.tallyId
    )
    return closed
  }

  /** The operator's negotiation in the audit trail: which tally and proposal, never the terms' text. */
  private recordProposal(op: string, ctx: CallContext | undefined, p: TermsProposal, tallyId: string): void {
    this.desk.record(op, ctx, { tallyId, detail: { proposal: p.proposalId } })
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
  async getStoreSetting(): Promise<StoreSettingView> {
    return storeSettingView(this.storeTarget, await readStoreSetting(this.init.dataDir))
  }

  /** Checked by connecting, then saved for the next start (the running store stays until then). */
  async setStoreSetting(input: StoreSettingInput, ctx?: CallContext): Promise<StoreSettingView> {
    const kept = await readStoreSetting(this.init.dataDir).catch(() => undefined)
    const saved = await checkStore(input, kept)
    await saveStoreSetting(this.init.dataDir, saved)
    // who changed where the node keeps its data; the URL's host and the password stay out of the trail
    this.desk.record('store-setting', ctx, { detail: { kind: saved.kind } })
    return storeSettingView(this.storeTarget, saved)
  }

  async listPeers(): Promise<PeerView[]> {
    return this.peers.list()
  }
}
