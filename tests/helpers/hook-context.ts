/** Hook contexts for tests that call a store's hooks directly, the way the library calls them. */
import { toValidatedToken } from '../../main/bootstrap/token-info.ts'
import type { HookContext, TokenHookContext, TokenInfo } from '../../main/bootstrap/types.ts'

/** `ctx` with the token validateToken accepted, as the listener gives it to the hooks that follow. */
export function tokenCtx(ctx: HookContext, info: TokenInfo | null | undefined): TokenHookContext {
  const token = toValidatedToken(info, 'token-text')
  if (token === undefined) throw new Error('tokenCtx: not a TokenInfo')
  return { ...ctx, token }
}
