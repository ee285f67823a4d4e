/** Errors of the shared tally database; each has its own `name` (tests assert the name). */

/** The provisioner refused to open the document: wrong grant, wrong peer, unknown or revoked tally. */
/**
 * The channel an open request went on lost to one both peers opened at the same moment (the other is kept
 * on both sides); the request is sent again on the kept channel.
 */
export class ChannelSupersededError extends Error {
  override name = 'ChannelSupersededError'
  constructor(message = 'the channel was replaced by one opened at the same time', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The provisioner refused the grant (or the channel closed before it answered). */
export class GrantRefusedError extends Error {
  override name = 'GrantRefusedError'
  constructor(message = 'the tally database refused this grant', options?: ErrorOptions) {
    super(message, options)
  }
}

/** No document of that tally on this node. */
export class UnknownTallyDocumentError extends Error {
  override name = 'UnknownTallyDocumentError'
  constructor(message = 'no shared document for this tally on this node', options?: ErrorOptions) {
    super(message, options)
  }
}

/**
 * The document held for a tally is not that tally between its two parties (found when it is first loaded:
 * a document handed over in a bootstrap frame is stored as bytes, unread).
 */
export class ForeignDocumentError extends Error {
  override name = 'ForeignDocumentError'
  constructor(message = 'the document held for this tally is not this tally', options?: ErrorOptions) {
    super(message, options)
  }
}

/**
 * The counterparty wrote into the tally's document what it may not (in our name, outside the negotiation
 * steps, or too much): found in a document it handed over, when that is first loaded.
 */
export class RefusedChangeError extends Error {
  override name = 'RefusedChangeError'
  constructor(reason: string, options?: ErrorOptions) {
    super(`the counterparty's node wrote into this tally's document what it may not: ${reason}`, options)
  }
}

/** The provisioner could not be reached on any of its addresses. */
export class TallyDbUnreachableError extends Error {
  override name = 'TallyDbUnreachableError'
  constructor(message = 'the tally database could not be reached', options?: ErrorOptions) {
    super(message, options)
  }
}

/** A proposal or acceptance that the document's rules do not allow. */
export class ProposalError extends Error {
  override name = 'ProposalError'
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
  }
}

/** Another TallyDb (in this process or another) has the folder open: two writers would corrupt its journal. */
export class TallyDbLockedError extends Error {
  override name = 'TallyDbLockedError'
  constructor(
    readonly dir: string,
    readonly pid?: number,
    options?: ErrorOptions
  ) {
    super(
      `the tally database in ${dir} is open in ${pid === undefined ? 'another process' : `process ${pid}`}; ` +
        'close that one first (one process at a time may hold a folder)',
      options
    )
  }
}

/** The tally database was closed. */
export class TallyDbClosedError extends Error {
  override name = 'TallyDbClosedError'
  constructor(message = 'the tally database is closed', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The grant this opener keeps cannot be unsealed: the node runs with another grant key than the one that kept it. */
export class SealedGrantError extends Error {
  override name = 'SealedGrantError'
  constructor(
    message = 'this node cannot open the grant it keeps for this tally: its grant key is not the one it was kept with (keep the secret it is derived from)',
    options?: ErrorOptions
  ) {
    super(message, options)
  }
}
