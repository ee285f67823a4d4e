/**
 * The IPC side of the API: one invoke handler for every command, through the same dispatcher as the
 * HTTP server, and the console's event batches forwarded to the window.
 */
import { ipcMain, type BrowserWindow, type IpcMainInvokeEvent } from 'electron'
import { IPC, type IpcReply, type TaleusApi } from '../../preload/contract.ts'
import { createInvokeHandler } from '../electron/ipc-guard.ts'
import { createDispatcher } from './dispatch.ts'

/** Options of registerIpc. */
export interface IpcInit {
  /** URL of our renderer; calls from any other frame are refused. */
  rendererUrl: string
}

/**
 * Serves `api` to `window` over IPC: `IPC.invoke` (sender checked: it must be this window's main frame
 * showing our renderer; name and input validated) and event batches pushed on `IPC.events`.
 * Returns the function that undoes it (also run when the window closes).
 */
export function registerIpc(api: TaleusApi, window: BrowserWindow, init: IpcInit): () => void {
  const contents = window.webContents
  const handle = createInvokeHandler(createDispatcher(api, { actor: 'electron' }), {
    contentsId: contents.id,
    rendererUrl: init.rendererUrl
  })

  ipcMain.handle(
    IPC.invoke,
    (event: IpcMainInvokeEvent, name: unknown, input: unknown): Promise<IpcReply> => {
      const frame = event.senderFrame
      return handle(
        {
          contentsId: event.sender.id,
          frameUrl: frame?.url,
          isMainFrame: frame != null && frame.parent === null
        },
        name,
        input
      )
    }
  )

  // The service already batches; one subscription per window, dropped when the window goes away.
  const unsubscribe = api.subscribe((batch) => {
    if (!window.isDestroyed() && !contents.isDestroyed()) contents.send(IPC.events, batch)
  })

  let done = false
  const unregister = (): void => {
    if (done) return
    done = true
    unsubscribe()
    ipcMain.removeHandler(IPC.invoke)
  }
  window.once('closed', unregister)
  return unregister
}
