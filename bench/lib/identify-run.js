// Listener CPU per identify answered to stock-libp2p wallets (issue K: our signed peer record sealed once
// per set of addresses, or once per answer as stock libp2p does). Listener and wallets are child processes.
import { Child } from './children.js'

/** One run: `count` identify answers over `connections` open connections; listener CPU per answer (ms). */
export async function runIdentify({ cachePeerRecord, count = 2000, connections = 10, warm = 1000 }) {
  const listener = new Child('identify-listener.ts')
  const wallets = new Child('identify-wallets.ts')
  try {
    listener.send({ type: 'start', cachePeerRecord })
    const { addr } = await listener.waitFor('ready')
    wallets.send({ type: 'connect', addr, connections })
    await wallets.waitFor('connected')
    wallets.send({ type: 'ask', count: warm })
    await wallets.waitFor('asked')
    listener.send({ type: 'mark' })
    await listener.waitFor('marked')
    wallets.send({ type: 'ask', count })
    const { wallMs, count: answered } = await wallets.waitFor('asked')
    listener.send({ type: 'report' })
    const { cpuMs } = await listener.waitFor('cpu')
    wallets.send({ type: 'stop' })
    await wallets.waitFor('stopped')
    listener.send({ type: 'stop' })
    await listener.waitFor('stopped')
    return {
      cachePeerRecord,
      count: answered,
      cpuMsPerAnswer: Math.round((cpuMs / answered) * 1000) / 1000,
      perSecond: Math.round((answered / wallMs) * 1000 * 10) / 10
    }
  } finally {
    wallets.proc.kill()
    listener.proc.kill()
  }
}
