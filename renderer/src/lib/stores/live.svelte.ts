/**
 * The live console state: one store per live source, fed by the event stream and resynchronised from
 * snapshots on start and after every reconnect of the stream (events in between are lost).
 */
import type {
  ApprovalView,
  ConsoleEvent,
  DialOutcome,
  DisplayView,
  PeerView,
  SessionView,
  TaleusApi,
  TallyView,
  TokenView
} from '../../../../preload/contract.ts'
import type { StreamStatus } from '../web-bridge.ts'
import { ApprovalsStore, type Resolved } from './approvals.svelte.ts'
import { clock } from './clock.svelte.ts'
import { DialsStore } from './dials.svelte.ts'
import { NamesStore } from './names.svelte.ts'
import { NodeStore } from './node.svelte.ts'
import { SessionsStore } from './sessions.svelte.ts'
import { TalliesStore } from './tallies.svelte.ts'
import { TallyDocumentsStore, type TallyDocumentEvent } from './tally-documents.svelte.ts'
import { TokensStore } from './tokens.svelte.ts'

/** How often node counters (connections, active sessions) are refreshed, in ms. */
const NODE_POLL_MS = 5000

/** Every live store of the console, wired to one API. */
export class Live {
  readonly sessions = new SessionsStore()
  readonly approvals = new ApprovalsStore()
  readonly tokens = new TokensStore()
  readonly tallies = new TalliesStore()
  readonly node = new NodeStore()
  readonly dials = new DialsStore()
  readonly names = new NamesStore()
  /** Shared documents of the tallies on screen (issue I). */
  readonly tallyDocuments = new TallyDocumentsStore(() => this.api)
  /** Customer displays of `per-customer` tokens, by displayId (their links are secrets: memory only). */
  displays = $state.raw(new Map<string, DisplayView>())
  status = $state<StreamStatus | 'ipc'>('connecting')
  /** Words of the last failed snapshot load, if any. */
  loadError = $state<unknown>(undefined)
  /** True once a snapshot loaded: before that, empty stores mean "not known yet", not "none". */
  loaded = $state(false)
  /** Called with each approval that arrives live (not with those loaded from a snapshot). */
  onApproval: ((approval: ApprovalView) => void) | undefined
  #unsubscribe: (() => void) | undefined
  #poll: ReturnType<typeof setInterval> | undefined
  #opened = false

  constructor(readonly api: TaleusApi) {}

  /** Called by the bridge when the stream changes state. */
  setStatus(status: StreamStatus | 'ipc'): void {
    this.status = status
    if (status === 'open') {
      // The first open follows start()'s load; a later one means we missed events.
      if (this.#opened) void this.resync()
      this.#opened = true
    }
  }

  /** Subscribes, then loads snapshots (so nothing between the two is lost), and starts the clock. */
  async start(): Promise<void> {
    clock.start()
    this.#unsubscribe = this.api.subscribe((batch) => {
      this.apply(batch)
    })
    this.#poll = setInterval(() => void this.refreshNode(), NODE_POLL_MS)
    await this.resync()
  }

  /** Unsubscribes and stops timers. */
  stop(): void {
    this.#unsubscribe?.()
    clearInterval(this.#poll)
    clock.stop()
  }

  /** Reloads every snapshot. */
  async resync(): Promise<void> {
    try {
      const [sessions, approvals, tokens, tallies, peers, info] = await Promise.all([
        this.api.listSessions(),
        this.api.listApprovals(),
        // The newest page; archived tokens only while the tokens screen shows them (they grow per customer).
        this.api.listTokens(this.tokens.firstPage()),
        this.api.listTallies(),
        this.api.listPeers(),
        this.api.getNodeInfo()
      ])
      this.sessions.apply(sessions)
      this.approvals.load(approvals)
      this.tokens.load(tokens)
      this.tallies.loadFirst(tallies)
      this.names.apply(approvals, tallies)
      this.node.applyPeers(peers)
      this.node.info = info
      this.loadError = undefined
      this.loaded = true
      this.tallyDocuments.refreshWatched()
    } catch (err) {
      this.loadError = err
    }
  }

  /** Upserts customer displays (a newer view of a display replaces an older one). */
  applyDisplays(views: readonly DisplayView[]): void {
    const next = new Map(this.displays)
    for (const v of views) {
      const old = next.get(v.displayId)
      if (old == null || v.updatedAt >= old.updatedAt) next.set(v.displayId, v)
    }
    this.displays = next
  }

  /** Refreshes the node's counters. */
  async refreshNode(): Promise<void> {
    try {
      this.node.info = await this.api.getNodeInfo()
    } catch {
      // the stream status already tells the operator the node is away
    }
  }

  /** Applies one batch: each store updates once. */
  apply(batch: readonly ConsoleEvent[]): void {
    const sessions: SessionView[] = []
    const approvals: ApprovalView[] = []
    const resolved: Resolved[] = []
    const tokens: TokenView[] = []
    const tallies: TallyView[] = []
    const peers: PeerView[] = []
    const outcomes: DialOutcome[] = []
    const displays: DisplayView[] = []
    const documents: TallyDocumentEvent[] = []
    for (const event of batch) {
      switch (event.kind) {
        case 'session':
          sessions.push(event.session)
          break
        case 'approval':
          approvals.push(event.approval)
          break
        case 'approval-resolved':
          resolved.push({ sessionId: event.sessionId, decision: event.decision })
          break
        case 'token':
          tokens.push(event.token)
          break
        case 'tally':
          tallies.push(event.tally)
          break
        case 'peer':
          peers.push(event.peer)
          break
        case 'dial-result':
          outcomes.push(event.outcome)
          break
        case 'display':
          displays.push(event.display)
          break
        case 'tally-document':
          documents.push(event)
          break
      }
    }
    this.sessions.apply(sessions)
    this.approvals.apply(approvals, resolved)
    this.tokens.apply(tokens)
    this.tallies.apply(tallies)
    this.names.apply(approvals, tallies)
    for (const a of approvals) this.onApproval?.(a)
    this.node.applyPeers(peers)
    this.dials.apply(outcomes)
    if (displays.length > 0) this.applyDisplays(displays)
    this.tallyDocuments.apply(documents)
  }
}
