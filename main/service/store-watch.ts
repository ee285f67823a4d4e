/** The store's events as the console shows them, and what this node does about them. */
import type {
  ApprovalView,
  ConsoleEvent,
  ApprovalEnd,
  SessionEvent,
  TallyView,
  TokenView
} from '../views/console-views.ts'
import type { MerchantStore } from '../store/types.ts'
import type { Listen } from './listeners.ts'

/** Where watchStore sends the store's events. */
export interface WatchStoreInit {
  listen: Listen
  push: (event: ConsoleEvent) => void
  /** A token was revoked (on another node of the cadre too): end this node's sessions on it. */
  abortToken: (tokenId: string) => void
  /** A session another node of the cadre serves moved. */
  remoteSession: (event: SessionEvent, node: string) => void
  /** A tally changed: returns the view to show (a pending one says when it is asked about next). */
  tally: (view: TallyView) => TallyView
  /** An approval was requested. */
  approval: (view: ApprovalView) => void
}

/** Follow `store`'s token, session, tally and approval events. */
export function watchStore(
  store: MerchantStore,
  { listen, push, abortToken, remoteSession, tally, approval }: WatchStoreInit
): void {
  listen(store, 'token', (detail: TokenView) => {
    push({ kind: 'token', token: detail })
    // revoked on another node of the cadre: this node's sessions on the token end too
    if (detail.revoked) abortToken(detail.tokenId)
  })
  // the cadre's one console: the sessions the other nodes serve, live
  listen(store, 'remote-session', (detail: SessionEvent & { node: string }) =>
    remoteSession(detail, detail.node)
  )
  listen(store, 'tally', (detail: TallyView) => push({ kind: 'tally', tally: tally(detail) }))
  listen(store, 'approval', (detail: ApprovalView) => {
    push({ kind: 'approval', approval: detail })
    approval(detail)
  })
  listen(store, 'approval-resolved', (detail: { sessionId: string; decision: ApprovalEnd }) =>
    push({
      kind: 'approval-resolved',
      sessionId: detail.sessionId,
      decision: detail.decision
    })
  )
}
