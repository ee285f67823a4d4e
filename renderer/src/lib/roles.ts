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

/** One sentence saying who is the stock and who provisions the tally's database. */
export function roleSentence(role: PartyRole, direction: Direction): string {
  if (direction === 'inbound') {
    return role === 'stock'
      ? "You are the stock (you provision the tally's database); the customer is the foil."
      : "You are the foil; the customer is the stock and provisions the tally's database."
  }
  return role === 'stock'
    ? "You are the foil (the merchant is the stock and provisions the tally's database)."
    : "You are the stock (you provision the tally's database); the merchant is the foil."
}

/** The explanation next to each choice when a merchant picks the role of a new token. */
export const TOKEN_ROLE_WORDS: Record<PartyRole, string> = {
  stock: "This node is the stock: it provisions the tally's database; the customer is the foil.",
  foil: "This node is the foil: the customer is the stock and provisions the tally's database."
}
