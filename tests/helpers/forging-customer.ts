/**
 * A customer that bootstraps honestly with a real store and TallyDb, then leaves its TallyDb and writes into
 * its replica with automerge-repo directly, over the library's own adapter: what an attacker holding a
 * grant can send. Its honest proposals follow the negotiation steps; its forgery does not.
 */
import { Repo } from '@automerge/automerge-repo'
import type { DocHandle, DocumentId, PeerId as RepoPeerId } from '@automerge/automerge-repo'
import { applyChanges, change, clone, getLastLocalChange } from '@automerge/automerge'
import type { Doc } from '@automerge/automerge'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { parseLink } from '../../main/bootstrap/index.ts'
import { Libp2pNetworkAdapter } from '../../main/tallydb/index.ts'
import { acceptProposal, addProposal } from '../../main/tallydb/tally-document.ts'
import { confirmAcceptance } from '../../main/tallydb/agreement-steps.ts'
import type { StoredTallyDoc, TallyTerms } from '../../main/tallydb/tally-document.ts'
import type { DbParty, DbWorld } from './tallydb-party.ts'

/** A bootstrapped customer writing into the tally's document outside the rules when told to. */
export class ForgingCustomer {
  readonly tallyId: string
  readonly peerId: string
  /** The credentials the bootstrap returned (never to appear in the merchant's output). */
  readonly grant: string
  readonly #merchant: string
  readonly #repo: Repo
  readonly #adapter: Libp2pNetworkAdapter
  readonly #handle: DocHandle<StoredTallyDoc>

  private constructor(init: {
    tallyId: string
    party: DbParty
    grant: string
    merchant: string
    repo: Repo
    adapter: Libp2pNetworkAdapter
    handle: DocHandle<StoredTallyDoc>
  }) {
    this.tallyId = init.tallyId
    this.peerId = init.party.peerId
    this.grant = init.grant
    this.#merchant = init.merchant
    this.#repo = init.repo
    this.#adapter = init.adapter
    this.#handle = init.handle
  }

  /** Bootstrap on the merchant's stock `link` in `world`, then open the document with the grant. */
  static async bootstrap(world: DbWorld, link: string): Promise<ForgingCustomer> {
    const party = await world.party()
    const parsed = parseLink(link)
    const result = await party.manager.initiateBootstrap(parsed, party.node)
    await party.db.close()
    const adapter = new Libp2pNetworkAdapter(party.node)
    const repo = new Repo({
      network: [adapter],
      peerId: party.peerId as RepoPeerId,
      sharePolicy: async () => true,
      isEphemeral: true
    })
    // the listener answered: it is the tally's respondent
    const merchant = result.tally.respondentPeerId
    const opened = await adapter.open(
      peerIdFromString(merchant),
      result.dbConnectionInfo.nodes.map((a) => multiaddr(a)),
      result.tally.tallyId,
      result.dbConnectionInfo.credentials
    )
    const handle = repo.import<StoredTallyDoc>(opened.snapshot!, { docId: opened.documentId as DocumentId })
    return new ForgingCustomer({
      tallyId: result.tally.tallyId,
      party,
      grant: result.dbConnectionInfo.credentials,
      merchant,
      repo,
      adapter,
      handle
    })
  }

  /** An honest proposal in its own name. */
  propose(proposalId: string, terms: TallyTerms): void {
    const at = new Date().toISOString()
    this.#handle.change((d) => addProposal(d, { proposalId, by: this.peerId, at, terms, status: 'open' }))
  }

  /** Confirm the merchant's acceptance of its proposal (a TallyDb does so by itself; this one waits to be told). */
  confirm(proposalId: string): void {
    const at = new Date().toISOString()
    this.#handle.change((d) => confirmAcceptance(d, proposalId, this.peerId, at))
  }

  /** Its own proposal of `terms`, marked accepted by the merchant with the merchant's log entry. */
  forgeAcceptance(proposalId: string, terms: TallyTerms): void {
    const at = new Date().toISOString()
    // two changes, as two honest-looking steps: the proposal passes on its own, the acceptance does not
    this.#handle.change((d) => addProposal(d, { proposalId, by: this.peerId, at, terms, status: 'open' }))
    this.#handle.change((d) => acceptProposal(d, proposalId, this.#merchant, at))
  }

  /** A copy of its document as it stands now, on which it can go on as if offline (the same actor). */
  offlineCopy(): Doc<StoredTallyDoc> {
    return clone(this.#handle.doc())
  }

  /**
   * Accept the merchant's proposal on `copy`, then come back online: the merchant gets an acceptance made
   * before anything that arrived after the copy (crossed, when the proposer withdrew it meanwhile).
   */
  acceptOffline(copy: Doc<StoredTallyDoc>, proposalId: string): void {
    const at = new Date().toISOString()
    const accepted = change(copy, (d) => acceptProposal(d, proposalId, this.peerId, at))
    const made = getLastLocalChange(accepted)
    if (made === undefined) throw new Error('the acceptance made no change')
    this.#handle.update((d) => applyChanges(d, [made])[0])
  }

  /** Its own copy of the document. */
  doc(): StoredTallyDoc {
    return this.#handle.doc()
  }

  async stop(): Promise<void> {
    this.#repo.shutdown()
    await this.#adapter.stop()
  }
}
