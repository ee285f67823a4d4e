/**
 * Role in plain words. In the data a role is always the role of the node that made the link (the
 * merchant); what the screens say is always from this node's own point of view.
 */
import type { PartyRole } from '../../../preload/contract.ts'

export { ownRole, roleSentence } from '../../../main/views/roles.ts'

/** The explanation next to each choice when a merchant picks the role of a new token. */
export const TOKEN_ROLE_WORDS: Record<PartyRole, string> = {
  stock: "This node is the stock: it keeps the tally's shared document; the customer is the foil.",
  foil: "This node is the foil: the customer is the stock, and their node keeps the tally's shared document."
}
