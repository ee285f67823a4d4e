/** Archived tokens: revoked or used-up tokens the operator moved out of the list (kept on the node). */
import type { TaleusApi, TokenView } from '../../../preload/contract.ts'

type WithArchive = { archived?: boolean }
type ArchiveApi = { archiveTokens?: (input: { tokenIds: string[] }) => Promise<TokenView[]> }

/** True when the token was archived. */
export function isArchived(token: TokenView): boolean {
  return (token as TokenView & WithArchive).archived === true
}

/** Archives tokens on the node; returns their new views. */
export async function archiveTokens(api: TaleusApi, tokenIds: string[]): Promise<TokenView[]> {
  const command = (api as TaleusApi & ArchiveApi).archiveTokens
  if (command == null)
    throw Object.assign(new Error('archiving is not available'), { code: 'unknown-command' })
  return command({ tokenIds })
}
