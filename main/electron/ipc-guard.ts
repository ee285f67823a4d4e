/**
 * The checks and error shaping of the IPC invoke handler, free of Electron imports (testable in Node):
 * the caller must be our window's main frame showing our renderer, the name a command, the input an object.
 */
import type { IpcReply } from '../../preload/contract.ts'
import { isCommandName, type Dispatcher } from '../api/dispatch.ts'
import { isTrustedRendererUrl } from './trusted-url.ts'

/** Error code of a call from a frame that is not our renderer. */
export const FORBIDDEN_SENDER = 'forbidden-sender'
/** Error code of a call whose name or input is not shaped like a command. */
export const BAD_REQUEST = 'bad-request'

/** Who sent an invoke, as read from the IPC event. */
export interface InvokeSender {
  /** webContents id of the sender. */
  contentsId: number
  /** URL of the sending frame. */
  frameUrl: string | undefined
  /** False for sub-frames (iframes). */
  isMainFrame: boolean
}

/** Init of createInvokeHandler. */
export interface InvokeHandlerInit {
  /** webContents id of our window. */
  contentsId: number
  /** URL our renderer was loaded from. */
  rendererUrl: string
}

function failure(code: string, message: string): IpcReply {
  return { ok: false, error: { code, message } }
}

/** A plain object (or nothing): what every command takes. Arrays, class instances and the like are not. */
function isInput(input: unknown): boolean {
  if (input === undefined || input === null) return true
  if (typeof input !== 'object' || Array.isArray(input)) return false
  const proto = Object.getPrototypeOf(input)
  return proto === Object.prototype || proto === null
}

/** Turns a thrown ApiError (or anything else) into reply data without copying foreign error text. */
export function toIpcReply(err: unknown): IpcReply {
  const e = err as { name?: unknown; code?: unknown; message?: unknown } | null
  if (e != null && e.name === 'ApiError' && typeof e.code === 'string' && typeof e.message === 'string') {
    return failure(e.code, e.message)
  }
  return failure('internal-error', 'something went wrong on the node')
}

/** The invoke handler's logic: checks, then the dispatcher; never throws. */
export function createInvokeHandler(
  dispatch: Dispatcher,
  init: InvokeHandlerInit
): (sender: InvokeSender, name: unknown, input: unknown) => Promise<IpcReply> {
  return async (sender, name, input) => {
    if (
      sender.contentsId !== init.contentsId ||
      !sender.isMainFrame ||
      !isTrustedRendererUrl(sender.frameUrl, init.rendererUrl)
    ) {
      return failure(FORBIDDEN_SENDER, 'this window may not use the console API')
    }
    if (!isCommandName(name) || !isInput(input)) {
      return failure(BAD_REQUEST, 'malformed request')
    }
    try {
      return { ok: true, value: await dispatch(name, input ?? undefined) }
    } catch (err) {
      return toIpcReply(err)
    }
  }
}
