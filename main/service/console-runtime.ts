/**
 * The console service's running node: its store, libp2p node, SessionManager, tally database and verdict
 * services started and stopped in order, and the live state the API reads (console-service.ts).
 */
import { setMaxListeners } from 'node:events'
import type { Libp2p } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { SessionEvent, TallyView, TokenView } from '../views/console-views.ts'
import { ApiError } from './api-error.ts'
import { RejectedError, SessionManager } from '../bootstrap/index.ts'
import { LIMITS } from '../bootstrap/messages.ts'
import type { SessionManagerInit } from '../bootstrap/index.ts'
import { createTaleusNode, loadOrCreatePrivateKey } from '../node/index.ts'
import { openStore } from '../store/index.ts'
import type { MerchantStore } from '../store/types.ts'
import { EventBatcher } from './event-batcher.ts'
import { SessionTable } from './session-table.ts'
import { asCadre, cadreLinkAddrs } from './cadre.ts'
import { OperatorDesk } from './operator-desk.ts'
import { PeerTable } from './peer-table.ts'
import { tokenLink } from './token-links.ts'
import { SYSTEM_CALL } from './operations.ts'
import { restoreSessions } from './session-history.ts'
import type { TallyDb } from '../tallydb/index.ts'
import { VerdictService } from '../bootstrap/verdict-service.ts'
import { VerdictRecovery } from './verdict-recovery.ts'
import type { ConsoleServiceInit } from './console-service-types.ts'
import { DialTable } from './dial-table.ts'
import { AddrCache } from './node-addrs.ts'
import { Listeners } from './listeners.ts'
import { watchPeers } from './peer-watch.ts'
import { watchStore } from './store-watch.ts'
import { TokenExpiry } from './token-expiry.ts'
import { openTallyDocuments, watchTallyDocuments } from './tally-document-api.ts'
import {
  ListenError,
  defaultListen,
  isListenFailure,
  saveListenPort,
  savedListenPort
} from './listen-port.ts'

/** Every interface, any free port. */
/** The node's own key (its peer id). */
export type PrivateKey = Awaited<ReturnType<typeof loadOrCreatePrivateKey>>

/** One node, its store and its SessionManager, started and stopped; the API is built on it. */
export abstract class ConsoleRuntime {
  protected readonly batcher: EventBatcher
  protected readonly desk: OperatorDesk
  protected readonly sessions: SessionTable
  protected readonly dials: DialTable
  protected readonly peers = new PeerTable()
  protected readonly shutdown = new AbortController()
  protected readonly mdns: boolean
  private store: MerchantStore | undefined
  private node: Libp2p | undefined
  private manager: SessionManager | undefined
  /** The shared tally database (issue I). */
  protected tallyDb: TallyDb | undefined
  private verdicts: VerdictService | undefined
  protected recovery: VerdictRecovery | undefined
  private expiry: TokenExpiry | undefined
  protected startedAt = 0
  /** This node's multiaddrs as text, dropped when libp2p says they changed. */
  private readonly addrs: AddrCache
  private starting: Promise<void> | undefined
  private stopping: Promise<void> | undefined
  private tearingDown: Promise<void> | undefined
  private readonly listeners = new Listeners()
  private readonly listen = this.listeners.listen
  readonly peerId: string

  constructor(
    protected readonly init: ConsoleServiceInit,
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
    this.addrs = new AddrCache(this.peerId)
    this.dials = new DialTable((sessionId) => {
      const row = this.sessions.get(sessionId)
      return row === undefined || row.done
    })
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

  /**
   * The libp2p node, on the addresses it was given; without any, on every interface at the port of the
   * last run (printed QR codes keep working), or any free port the first time or when that one is taken.
   */
  private async startNode(): Promise<Libp2p> {
    const make = async (listen: string[]): Promise<Libp2p> =>
      createTaleusNode({ listen, mdns: this.mdns, privateKey: this.privateKey })
    const given = this.init.listen
    if (given !== undefined) {
      return make(given).catch((err: unknown) => {
        if (!isListenFailure(err)) throw err
        throw new ListenError(
          `could not listen on ${given.join(', ')}: the port is in use or the address is not this machine's; ` +
            'choose another --listen',
          { cause: err }
        )
      })
    }
    const saved = await savedListenPort(this.init.dataDir)
    let node: Libp2p | undefined
    if (saved !== undefined) {
      node = await make(defaultListen(saved)).catch((err: unknown) => {
        if (!isListenFailure(err)) throw err
        this.init.onWarning?.(
          `port ${saved} of the last run is in use: the node listens on another, so links and QR codes ` +
            'made before this start no longer reach it'
        )
        return undefined
      })
    }
    node ??= await make(defaultListen())
    await saveListenPort(this.init.dataDir, node).catch(() => {})
    return node
  }

  private async doStart(): Promise<void> {
    const store: MerchantStore = this.opened ?? (await openStore(this.init.dataDir))
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
      const expiry = new TokenExpiry({
        tokens: () => store.listTokens(),
        token: (tokenId) => store.getToken(tokenId),
        push: (token) => this.batcher.push({ kind: 'token', token })
      })
      this.expiry = expiry
      expiry.schedule()
      watchStore(store, {
        listen: this.listen,
        push: (event) => {
          this.batcher.push(event)
          if (event.kind === 'token') {
            expiry.changed(event.token)
            this.desk.displays.onToken(event.token)
          }
        },
        abortToken: (tokenId) => this.manager?.abortSessions({ tokenId }, new RejectedError('token-revoked')),
        remoteSession: (event, node) => this.onSessionEvent(event, node),
        tally: (view) => {
          // a tally that just became pending is asked about; its view then says when
          this.recovery?.track(view)
          return this.withNextCheck(view)
        },
        approval: (view) => this.desk.displays.onApproval(view)
      })

      const node = await this.startNode()
      this.node = node
      // before anything slow: the node runs already, and mDNS answers heard now are not heard again
      this.listen(node, 'self:peer:update', () => {
        this.addrs.invalidate()
      })
      watchPeers(node, {
        mdns: this.mdns,
        selfId: this.peerId,
        peers: this.peers,
        listen: this.listen,
        push: (peer) => this.batcher.push({ kind: 'peer', peer })
      })
      const grantKey = store.grantKey?.()
      if (this.init.tallyDb !== false && grantKey !== undefined && store.attachTallyDb !== undefined) {
        // a cadre keeps the documents in its database: any of its nodes serves any tally's document
        const tallyDb = await openTallyDocuments(
          this.init.dataDir,
          node,
          grantKey,
          await store.tallyBackend?.()
        )
        this.tallyDb = tallyDb
        store.attachTallyDb(tallyDb)
        watchTallyDocuments(tallyDb, this.listen, (event) => this.batcher.push(event))
      }

      const config: SessionManagerInit = { cadrePeerAddrs: () => this.servingAddrs() }
      if (this.init.sessionTimeoutMs !== undefined) config.sessionTimeoutMs = this.init.sessionTimeoutMs
      if (this.init.stepTimeoutMs !== undefined) config.stepTimeoutMs = this.init.stepTimeoutMs
      if (this.init.maxConcurrentSessions !== undefined)
        config.maxConcurrentSessions = this.init.maxConcurrentSessions
      if (this.init.abuseLimits !== undefined) config.abuseLimits = this.init.abuseLimits
      const manager = new SessionManager(
        store.hooks({ peerId: this.peerId, multiaddrs: () => this.servingAddrs() }),
        config
      )
      this.manager = manager
      this.listen(manager, 'session', (event: SessionEvent) => this.onSessionEvent(event))
      if (node.status !== 'started') await node.start()
      this.addrs.invalidate()
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
    this.expiry?.stop()
    const errors: unknown[] = []
    if (this.startedAt > 0)
      this.store?.recordOperation?.({ op: 'node-stop', actor: this.init.actor ?? 'system', at: Date.now() })
    await settle(this.recovery?.stop(), errors)
    await settle(this.verdicts?.stop(), errors)
    await settle(this.manager?.stop(), errors)
    // Dials end once the manager and node stop; give their outcomes a chance to settle.
    await Promise.race([Promise.allSettled(this.dials.outcomes()), delay(2000)])
    this.store?.attachTallyDb?.(undefined)
    await settle(this.tallyDb?.close(), errors)
    await settle(this.node?.stop(), errors)
    this.listeners.detachAll()
    this.batcher.close()
    await settle(this.store?.close(), errors)
    if (errors.length > 0) throw errors[0]
  }

  multiaddrs(): string[] {
    return this.addrs.get(this.node)
  }

  /**
   * Where the merchant is reached (its cadre addresses in the bootstrap, dbConnectionInfo.nodes): this
   * node, and on a cadre the other live nodes too (two addresses each), so the counterparty reaches the
   * tally's document, and asks for a verdict, while this node is down.
   */
  private servingAddrs(): string[] {
    const cadre = asCadre(this.store)
    if (cadre === undefined) return this.multiaddrs()
    return cadreLinkAddrs(this.multiaddrs(), cadre.cadreAddrs()).slice(
      0,
      Math.min(LIMITS.dbNodes, LIMITS.cadreAddrs)
    )
  }

  /** A pending tally's view says when its counterparty is asked next. */
  protected withNextCheck(view: TallyView): TallyView {
    if (view.status !== 'pending') return view
    const next = this.recovery?.nextCheckAt(view.tallyId)
    return next === undefined ? view : { ...view, nextCheckAt: next }
  }

  protected running(): { node: Libp2p; manager: SessionManager; store: MerchantStore } {
    const { node, manager, store } = this
    if (node === undefined || manager === undefined || store === undefined || this.stopping !== undefined) {
      throw new ApiError('not-running', 503, 'the node is not running')
    }
    return { node, manager, store }
  }

  protected linkFor(view: TokenView, token: string): string {
    // LAN addresses first: a customer's phone cannot reach our loopback. Fewer addresses keep the QR small.
    return tokenLink(view, token, cadreLinkAddrs(this.multiaddrs(), asCadre(this.store)?.cadreAddrs() ?? []))
  }

  /** `node`: the cadre node serving the session (default: this one; none for a lowdb store). */
  protected onSessionEvent(event: SessionEvent, node = asCadre(this.store)?.node): void {
    const session = this.sessions.apply(event, node)
    this.batcher.push({ kind: 'session', session, event })
    // events after the first may not repeat the token: the row has it. A stopping node's sessions end
    // with it and no display mints a next code then (its store is on its way out).
    if (session.tokenId !== undefined && this.store !== undefined && this.stopping === undefined)
      this.desk.displays.onSession({ ...event, tokenId: session.tokenId }, (created) =>
        this.desk.record('token-create', SYSTEM_CALL, {
          tokenId: created.tokenId,
          detail: { display: created.displayId ?? '' }
        })
      )
  }
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
