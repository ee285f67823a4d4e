/**
 * Role in plain words. In the data a role is always the role of the node that made the link (the
 * merchant); what the screens say is always from this node's own point of view.
 */
import type { Direction, PartyRole } from '../../../preload/contract.ts'

/** This node's own role in a tally or session whose link role is `role`. */
export function ownRole(role: PartyRole, direction: Direction): PartyRole {
  if (direction === 'inbound') return role
  return role === 'stock' ? 'foil' : 'stock'
}

/** One sentence saying who is the stock and whose node keeps the tally's shared document. */
export function roleSentence(role: PartyRole, direction: Direction): string {
  if (direction === 'inbound') {
    return role === 'stock'
      ? "You are the stock: your node keeps the tally's shared document. The customer is the foil."
      : "You are the foil. The customer is the stock: their node keeps the tally's shared document."
  }
  // we dialled their link: they chose the roles
  return role === 'stock'
    ? "You are the foil. The other side (whose link this is) is the stock: their node keeps the tally's shared document."
    : "You are the stock: your node keeps the tally's shared document. The other side (whose link this is) is the foil."
}

/** The explanation next to each choice when a merchant picks the role of a new token. */
export const TOKEN_ROLE_WORDS: Record<PartyRole, string> = {
  stock: "This node is the stock: it keeps the tally's shared document; the customer is the foil.",
  foil: "This node is the foil: the customer is the stock, and their node keeps the tally's shared document."
}
