/**
 * One entry point for every command, shared by the HTTP server and the Electron IPC handler: checks the
 * command name, validates the input and turns any failure into an ApiError with words a merchant reads.
 */
import * as v from 'valibot'
import type { CommandName, TaleusCommands } from '../../preload/contract.ts'
import { ROUTES } from '../../preload/contract.ts'
import { describeFailure } from '../bootstrap/reason-words.ts'
import { actorOf } from '../service/operations.ts'
import type { CallContext } from '../service/operations.ts'
import { ApiError, isApiError } from '../service/api-error.ts'
import { INPUT_SCHEMAS } from './schemas.ts'

/** Runs command `name` with `input` (for `ctx.actor`, default the dispatcher's); rejects with an ApiError only. */
export type Dispatcher = (name: string, input: unknown, ctx?: Partial<CallContext>) => Promise<unknown>

/** True for the name of a command of the contract (own keys only: `__proto__`, `toString` are not). */
export function isCommandName(name: unknown): name is CommandName {
  return typeof name === 'string' && Object.hasOwn(ROUTES, name)
}

/** Build the dispatcher over `api`; `defaults.actor` names the shell its calls come through. */
export function createDispatcher(api: TaleusCommands, defaults: Partial<CallContext> = {}): Dispatcher {
  return async (name, input, ctx) => {
    if (!isCommandName(name)) {
      throw new ApiError('unknown-command', 404, 'unknown command')
    }
    const parsed = v.safeParse(INPUT_SCHEMAS[name], input)
    if (!parsed.success) {
      throw new ApiError('bad-input', 400, describeIssues(parsed.issues))
    }
    const command = api[name] as (input?: unknown, ctx?: CallContext) => Promise<unknown>
    // the service records operator actions with who did them
    const context: CallContext = { actor: actorOf({ actor: ctx?.actor ?? defaults.actor ?? 'system' }) }
    try {
      return await command.call(api, parsed.output ?? undefined, context)
    } catch (err) {
      throw toApiError(err)
    }
  }
}

/** Map anything a command throws to an ApiError without copying foreign error text into it. */
export function toApiError(err: unknown): ApiError {
  if (isApiError(err)) return err
  const name = err instanceof Error ? err.name : ''
  if (name === 'InvalidLinkError') {
    // Its messages are written for users and never quote the token.
    return new ApiError('invalid-link', 400, (err as Error).message || 'this is not a Taleus link', {
      cause: err
    })
  }
  if (name === 'UnknownTokenError') {
    return new ApiError('not-found', 404, 'no such token on this node', { cause: err })
  }
  if (name === 'NotFoundError') {
    return new ApiError('not-found', 404, 'not found', { cause: err })
  }
  if (name === 'StoreInputError') {
    return new ApiError('bad-input', 400, 'the input was refused', { cause: err })
  }
  if (name === 'StoreFullError') {
    // its message names only the folder and free space, written for the merchant
    return new ApiError('disk-full', 507, (err as Error).message, { cause: err })
  }
  if (name === 'StoreWriteError') {
    return new ApiError('store-write-failed', 503, 'the data folder cannot be written (read-only or full)', {
      cause: err
    })
  }
  const hasReason = typeof (err as { reason?: unknown } | null)?.reason === 'string'
  const { reason, message } = describeFailure(err)
  if (hasReason && reason !== 'internal-error') {
    return new ApiError(reason, reason === 'timeout' ? 504 : 409, message, { cause: err })
  }
  return new ApiError('internal-error', 500, 'something went wrong on the node', { cause: err })
}

function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  const first = issues[0]
  if (first === undefined) return 'invalid input'
  const path = first.path?.map((p) => String(p.key)).join('.')
  return path ? `${path}: ${first.message}` : first.message
}
