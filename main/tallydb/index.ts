/** The shared tally database (issue I): one Automerge document per tally, served over libp2p. */
// first: libp2p 3 needs Promise.withResolvers, which Node 20 lacks (a wallet may import only this entry)
import '../bootstrap/polyfill.ts'
export { TallyDb } from './tally-db.ts'
export type {
  ProvisionInput,
  ProvisionedDocument,
  TallyDbEvents,
  TallyDbInit,
  TallyDocumentView
} from './tally-db-types.ts'
export type { SharedChanges, TallyDbBackend, TallyIndexStore, TallyStorage } from './backend-types.ts'
export { Libp2pNetworkAdapter, TALLYDB_PROTOCOL } from './libp2p-adapter.ts'
export type { Libp2pNetworkAdapterInit, Opened, OpenRequest } from './libp2p-adapter.ts'
export { checkTerms, str, stringFormFor, stringFormOf } from './tally-document.ts'
export type {
  DocString,
  NegotiationEntry,
  Stored,
  StoredTallyDoc,
  StringForm,
  TallyDoc,
  TallyTerms,
  TermsProposal
} from './tally-document.ts'
export type { TallyDocBody } from './doc-view.ts'
export { firstActor, firstStateBytes, seedTerms, seedText } from './first-state.ts'
export type { FirstSeed } from './first-state.ts'
export * from './errors.ts'
export {
  documentHandedOver,
  grantKeyOf,
  joinDocument,
  provisionDocument,
  revokeDocument
} from './bootstrap-hooks.ts'
export type { DocumentProvision } from './bootstrap-hooks.ts'
