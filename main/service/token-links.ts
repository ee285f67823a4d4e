/** The link (QR text) of a token: the token, our addresses (LAN first) and the terms a dialer must know. */
import type { TokenView } from '../views/console-views.ts'
import { ApiError } from './api-error.ts'
import { formatLink } from '../bootstrap/index.ts'

/** Most responder addresses a link carries (the link format's own limit). */
export const MAX_LINK_ADDRS = 8

/** The link of `view` with token text `token` over `addrs` (best first); fewer addresses when too long. */
export function tokenLink(view: TokenView, token: string, addrs: string[]): string {
  const link = {
    token,
    responderPeerAddrs: addrs.slice(0, MAX_LINK_ADDRS),
    role: view.role,
    ...(view.expiresAt === null ? {} : { tokenExpiryUtc: new Date(view.expiresAt).toISOString() }),
    ...(view.identityRequirements.length === 0 ? {} : { identityRequirements: view.identityRequirements }),
    // the dialer waits this much longer for our answer while an operator decides
    ...(view.approval === 'operator' ? { approvalTimeoutMs: view.approvalTimeoutMs } : {})
  }
  if (link.responderPeerAddrs.length === 0)
    throw new ApiError('not-listening', 503, 'the node has no address to put in a link')
  for (;;) {
    try {
      return formatLink(link)
    } catch (err) {
      if (link.responderPeerAddrs.length <= 1) throw err
      link.responderPeerAddrs = link.responderPeerAddrs.slice(0, -1)
    }
  }
}
