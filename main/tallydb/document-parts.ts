/** The parts of a TallyDb that making and joining a tally's document work on (tally-db.ts composes them). */
import type { Repo } from '@automerge/automerge-repo'
import type { TallyIndexStore, TallyStorage } from './backend-types.ts'
import type { Libp2pNetworkAdapter } from './libp2p-adapter.ts'
import type { TallyDbInit } from './tally-db-types.ts'

/** One node's database parts, as TallyDb holds them. */
export interface DocumentParts {
  readonly init: TallyDbInit
  readonly index: TallyIndexStore
  readonly storage: TallyStorage
  readonly adapter: Libp2pNetworkAdapter
  readonly repo: Repo
  readonly now: () => number
  /** This node's PeerId as text. */
  readonly localPeerId: string
}
