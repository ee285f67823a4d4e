/** Archived tokens: revoked, used-up or expired tokens moved out of the list (kept on the node). */
import type { TaleusApi, TokenView } from '../../../preload/contract.ts'

/** True when the token was archived. */
export function isArchived(token: TokenView): boolean {
  return token.archived === true
}

/** True when the token may be archived (the node refuses an active one). */
export function canArchive(token: TokenView): boolean {
  return !isArchived(token) && token.status !== 'active'
}

/** Archives tokens on the node, one call each; returns their new views. */
export async function archiveTokens(api: TaleusApi, tokenIds: readonly string[]): Promise<TokenView[]> {
  const views: TokenView[] = []
  for (const tokenId of tokenIds) views.push(await api.archiveToken({ tokenId }))
  return views
}
