/**
 * The shared tally database (issue I) as both stores' hooks use it: the grant a provisioner hands out
 * (derived, never stored), joining the provisioner's document before saying yes, and revoking the grant
 * of a tally that ended abandoned. Without an attached TallyDb the grant is still derived, so a tally's
 * credentials stay the same whether or not documents are on.
 */
import { createHmac } from 'node:crypto'
import { RejectedError } from '../bootstrap/errors.ts'
import type { DraftTally, HookContext, ProvisionResult } from '../bootstrap/types.ts'
import { deriveGrant } from '../tallydb/grant.ts'
import type { TallyDb } from '../tallydb/tally-db.ts'
import type { TallyTerms } from '../tallydb/tally-document.ts'

/** The key of the tally database's grants, derived from a node's (or cadre's) secret. */
export function grantKeyOf(secret: Buffer): Buffer {
  return createHmac('sha256', secret).update('taleus/tallydb/grant-key/1', 'utf8').digest()
}

/** Provision `tally`'s document (when a TallyDb is attached) and return the grant for the counterparty. */
export async function provisionGrant(
  db: TallyDb | undefined,
  grantKey: Buffer,
  tally: DraftTally,
  terms: TallyTerms | undefined,
  ctx: HookContext
): Promise<string> {
  if (db === undefined) return deriveGrant(grantKey, tally.tallyId, ctx.remotePeerId)
  const provisioned = await db.provision({
    tally,
    counterpartyPeerId: ctx.remotePeerId,
    counterpartyAddrs: ctx.counterparty?.cadrePeerAddrs ?? [],
    terms,
    signal: ctx.signal
  })
  return provisioned.grant
}

/** Open the provisioner's document with the grant and hold a synced replica before saying yes. */
export async function joinDocument(
  db: TallyDb | undefined,
  result: ProvisionResult,
  terms: TallyTerms | undefined,
  ctx: HookContext
): Promise<void> {
  if (db === undefined) return
  try {
    await db.join({
      tally: result.tally,
      provisionerPeerId: ctx.remotePeerId,
      nodes: result.dbConnectionInfo.nodes,
      grant: result.dbConnectionInfo.credentials,
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

/** An abandoned tally's grant opens nothing any more (the opener may hold it already). */
export async function revokeDocument(db: TallyDb | undefined, tallyId: string): Promise<void> {
  if (db?.isProvisioner(tallyId) === true) await db.revoke(tallyId).catch(() => {})
}
