/**
 * Bench child: a Taleus node that only answers identify (issue K, the signed peer record). `start`
 * {cachePeerRecord} → `ready` {addr}; `mark` → `marked`; `report` → `cpu` {cpuMs} since the mark.
 */
import '../main/bootstrap/polyfill.ts'
import type { Libp2p } from '@libp2p/interface'
import { createTaleusNode } from '../main/node/index.ts'
import { onMessages, send } from './lib/child.ts'

let node: Libp2p | undefined
let before = process.cpuUsage()

onMessages(async (message) => {
  switch (message.type) {
    case 'start': {
      node = await createTaleusNode({ cachePeerRecord: message.cachePeerRecord as boolean })
      send({ type: 'ready', addr: node.getMultiaddrs()[0]!.toString() })
      break
    }
    case 'mark':
      before = process.cpuUsage()
      send({ type: 'marked' })
      break
    case 'report': {
      const cpu = process.cpuUsage(before)
      send({ type: 'cpu', cpuMs: (cpu.user + cpu.system) / 1000 })
      break
    }
    case 'stop':
      await node?.stop()
      send({ type: 'stopped' })
      break
  }
})
