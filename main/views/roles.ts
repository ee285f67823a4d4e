/** Who is the stock in a tally, seen from this node: shared by the service, the CLI and the renderer. */
import type { Direction, PartyRole } from '../bootstrap/types.ts'

/** Our own role in a tally or session whose link role is `role` (the data's `role` is always the link's). */
export function ownRole(role: PartyRole, direction: Direction): PartyRole {
  if (direction === 'inbound') return role
  return role === 'stock' ? 'foil' : 'stock'
}

/**
 * One sentence saying, from this node's point of view, who is the stock and whose node keeps the tally's
 * shared document (the screens, the tally page and `taleus dial` all say it this way).
 */
export function roleSentence(role: PartyRole, direction: Direction): string {
  if (direction === 'inbound') {
    return role === 'stock'
      ? "You are the stock: your node keeps the tally's shared document; the customer is the foil."
      : "You are the foil: the customer is the stock, and their node keeps the tally's shared document."
  }
  // we dialled their link: they chose the roles
  return role === 'stock'
    ? "You are the foil: the other side (whose link this is) is the stock, and their node keeps the tally's shared document."
    : "You are the stock: your node keeps the tally's shared document; the other side (whose link this is) is the foil."
}
