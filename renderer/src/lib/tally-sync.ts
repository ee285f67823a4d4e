/** A shared tally document's sync state with the counterparty, in words. */
import type { TallyDocumentView } from '../../../preload/contract.ts'

/** `synced`: a live channel carries the document; `not-yet`: our latest change has not reached them. */
export type SyncKind = 'synced' | 'not-yet' | 'unreachable' | 'checking' | 'revoked' | 'refused'

/** The state and its sentence. */
export interface SyncState {
  kind: SyncKind
  title: string
  text: string
}

/** Epoch ms of this node's newest change to the document (proposals, acceptances, confirmations), if any. */
export function lastOwnChange(view: TallyDocumentView, ownPeerId: string): number | undefined {
  let newest: number | undefined
  for (const e of view.document.log) {
    if (e.by !== ownPeerId || (e.kind !== 'proposed' && e.kind !== 'accepted' && e.kind !== 'confirmed'))
      continue
    const at = Date.parse(e.at)
    if (Number.isFinite(at) && (newest === undefined || at > newest)) newest = at
  }
  return newest
}

/** Where the document stands with the counterparty; `checking` while the first read is under way. */
export function syncState(view: TallyDocumentView | undefined, ownPeerId: string): SyncState {
  if (view === undefined)
    return {
      kind: 'checking',
      title: 'Checking…',
      text: 'Reaching the counterparty to bring this copy up to date.'
    }
  if (view.revoked)
    return {
      kind: 'revoked',
      title: 'Sharing ended',
      text: 'The tally was abandoned: the counterparty can no longer open this document.'
    }
  // their node keeps sending what it may not: nothing passes between the two copies until it stops
  if (view.refused !== null && (view.lastSyncAt === null || view.refused.at >= view.lastSyncAt))
    return {
      kind: 'refused',
      title: 'Their changes refused',
      text: `Their node sent a change to this tally that it may not make (${view.refused.reason}). This copy kept none of it; until their node sends only its own negotiation steps, no changes pass between you.`
    }
  if (view.connected)
    return {
      kind: 'synced',
      title: 'Synced',
      text: 'Connected to the counterparty: each change reaches the other side as it is made.'
    }
  const own = lastOwnChange(view, ownPeerId)
  if (own !== undefined && (view.lastSyncAt === null || own > view.lastSyncAt))
    return {
      kind: 'not-yet',
      title: 'Not synced yet',
      text:
        view.lastSyncAt === null
          ? 'No contact with the counterparty since this node started: your latest change goes when they can be reached.'
          : 'Your latest change has not reached the counterparty: it goes as soon as they can be reached.'
    }
  // the usual state once the customer's app has closed: nothing is wrong, so it reads calmly
  return {
    kind: 'unreachable',
    title: 'Counterparty offline',
    text: "They are not connected now (usual once their app is closed): this is this node's copy, up to date with everything you changed; their changes arrive when they are back."
  }
}
