/**
 * The shared tally database (issue I) as both stores' hooks use it: the grant a provisioner hands out
 * (derived, never stored) with the document it provisioned (carried in the bootstrap's frame), storing
 * that document (or opening it at a 1.0.0 provisioner) before saying yes, and revoking the grant of a
 * tally that ended abandoned. Without an attached TallyDb the grant is still derived, so a tally's
 * credentials stay the same whether or not documents are on.
 */
import { createHmac } from 'node:crypto'
import { RejectedError } from '../bootstrap/errors.ts'
import { LIMITS } from '../bootstrap/messages.ts'
import { PROTOCOL_ID, PROTOCOL_ID_V1_0 } from '../bootstrap/types.ts'
import type { DbConnectionInfo, DraftTally, HookContext, ProvisionResult } from '../bootstrap/types.ts'
import { deriveGrant } from './grant.ts'
import { firstStateBytes, seedText } from './first-state.ts'
import type { TallyDb } from './tally-db.ts'
import { stringFormFor } from './tally-document.ts'
import type { TallyTerms } from './tally-document.ts'

/** The key of the tally database's grants, derived from a node's (or cadre's) secret. */
export function grantKeyOf(secret: Buffer): Buffer {
  return createHmac('sha256', secret).update('taleus/tallydb/grant-key/1', 'utf8').digest()
}

/** A provisioned document: what the frame carries, and when it is on disk. */
export interface DocumentProvision extends Pick<DbConnectionInfo, 'credentials' | 'document'> {
  /** Settles once the document is on disk (at once without a TallyDb). */
  stored: Promise<void>
}

/**
 * Provision `tally`'s document (when a TallyDb is attached): the grant for the counterparty
 * (`credentials`) and the document to hand over in the frame: its seed to a 1.3.0 counterparty, which
 * derives the same first state; its bytes to a 1.1.0 or 1.2.0 one (left out if beyond the frame's bound);
 * nothing to a 1.0.0 one. Without it the counterparty opens the document with the grant, so it must be
 * `stored` before we answer.
 */
export function provisionDocument(
  db: TallyDb | undefined,
  grantKey: Buffer,
  tally: DraftTally,
  terms: TallyTerms | undefined,
  ctx: HookContext
): DocumentProvision {
  if (db === undefined)
    return { credentials: deriveGrant(grantKey, tally.tallyId, ctx.remotePeerId), stored: Promise.resolve() }
  const { stored, ...provisioned } = db.prepare({
    tally,
    counterpartyPeerId: ctx.remotePeerId,
    counterpartyAddrs: ctx.counterparty?.cadrePeerAddrs ?? [],
    terms,
    // strings as scalars only when the counterparty's version reads them (docs/protocol.md, Versions)
    stringForm: stringFormFor(ctx.protocol),
    signal: ctx.signal
  })
  const { grant: credentials, documentId: id, first } = provisioned
  if (ctx.protocol === PROTOCOL_ID)
    return { credentials, document: { id, seed: seedText(first.terms) }, stored }
  if (ctx.protocol === PROTOCOL_ID_V1_0) return { credentials, stored }
  const data = Buffer.from(firstStateBytes(first)).toString('base64')
  if (data.length > LIMITS.documentData) return { credentials, stored }
  return { credentials, document: { id, data }, stored }
}

/**
 * Hold a replica of the provisioner's document (derived from the frame's seed, or its bytes, else opened
 * with the grant) before saying yes.
 */
export async function joinDocument(
  db: TallyDb | undefined,
  result: ProvisionResult,
  terms: TallyTerms | undefined,
  ctx: HookContext
): Promise<void> {
  if (db === undefined) return
  const handed = result.dbConnectionInfo.document
  try {
    await db.join({
      tally: result.tally,
      provisionerPeerId: ctx.remotePeerId,
      nodes: result.dbConnectionInfo.nodes,
      grant: result.dbConnectionInfo.credentials,
      ...(handed === undefined
        ? {}
        : handed.seed !== undefined
          ? { document: { id: handed.id, seed: handed.seed } }
          : { document: { id: handed.id, bytes: Buffer.from(handed.data ?? '', 'base64') } }),
      ...(terms === undefined ? {} : { terms }),
      signal: ctx.signal
    })
  } catch (err) {
    ctx.signal.throwIfAborted()
    throw new RejectedError('provision-failed', 'the shared tally database could not be opened', {
      cause: err
    })
  }
}

/** The counterparty confirmed a tally we provisioned: it holds our document as of now (lastSyncAt). */
export function documentHandedOver(db: TallyDb | undefined, tallyId: string): void {
  db?.handedOver(tallyId)
}

/** An abandoned tally's grant opens nothing any more (the opener may hold it already). */
export async function revokeDocument(db: TallyDb | undefined, tallyId: string): Promise<void> {
  if (db?.isProvisioner(tallyId) === true) await db.revoke(tallyId).catch(() => {})
}
