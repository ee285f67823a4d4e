/**
 * Sandboxed preload: exposes `window.taleus`, the TaleusApi over IPC. Bundled to one CommonJS file
 * (sandboxed preloads can only require 'electron'). Failures reject with a plain `{ name, code, message }`
 * object because contextBridge drops custom properties of Error objects; the renderer's bridge turns it
 * back into an ApiCallError.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron'
import { IPC, type CommandName, type ConsoleEvent, type IpcReply, type TaleusApi } from './contract.ts'

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each TaleusApi method narrows the reply type
async function call(name: CommandName, input?: unknown): Promise<any> {
  const reply = (await ipcRenderer.invoke(IPC.invoke, name, input)) as IpcReply
  if (reply.ok) return reply.value
  // plain data (not an Error) survives contextBridge with its code
  throw { name: 'ApiCallError', code: reply.error.code, message: reply.error.message }
}

const api = {
  getNodeInfo: () => call('getNodeInfo'),
  listTokens: () => call('listTokens'),
  createToken: (input) => call('createToken', input),
  getTokenLink: (input) => call('getTokenLink', input),
  revokeToken: (input) => call('revokeToken', input),
  listSessions: () => call('listSessions'),
  getSessionEvents: (input) => call('getSessionEvents', input),
  listApprovals: () => call('listApprovals'),
  decide: (input) => call('decide', input),
  listTallies: () => call('listTallies'),
  dial: (input) => call('dial', input),
  waitDial: (input) => call('waitDial', input),
  listAudit: (input) => call('listAudit', input),
  listPeers: () => call('listPeers'),
  subscribe(onBatch) {
    const listener = (_event: IpcRendererEvent, batch: ConsoleEvent[]): void => onBatch(batch)
    ipcRenderer.on(IPC.events, listener)
    return () => {
      ipcRenderer.off(IPC.events, listener)
    }
  }
} satisfies TaleusApi

contextBridge.exposeInMainWorld('taleus', api)
