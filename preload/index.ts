/**
 * Sandboxed preload: exposes `window.taleus`, the TaleusApi over IPC. Bundled to one CommonJS file
 * (sandboxed preloads can only require 'electron'). Failures reject with a plain `{ name, code, message }`
 * object because contextBridge drops custom properties of Error objects; the renderer's bridge turns it
 * back into an ApiCallError.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron'
import {
  IPC,
  commandsVia,
  type CommandName,
  type ConsoleEvent,
  type IpcReply,
  type TaleusApi
} from './contract.ts'

async function call(name: CommandName, input?: unknown): Promise<unknown> {
  const reply = (await ipcRenderer.invoke(IPC.invoke, name, input)) as IpcReply
  if (reply.ok) return reply.value
  // plain data (not an Error) survives contextBridge with its code
  throw { name: 'ApiCallError', code: reply.error.code, message: reply.error.message }
}

const api = {
  ...commandsVia(call),
  subscribe(onBatch) {
    const listener = (_event: IpcRendererEvent, batch: ConsoleEvent[]): void => onBatch(batch)
    ipcRenderer.on(IPC.events, listener)
    return () => {
      ipcRenderer.off(IPC.events, listener)
    }
  }
} satisfies TaleusApi

contextBridge.exposeInMainWorld('taleus', api)
