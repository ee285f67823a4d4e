/**
 * The console service hands its abuse limits to the SessionManager: a merchant who expects more customers
 * waiting for the operator on one token than the guard's default can say so (real libp2p, temp stores).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createConsoleService, type ConsoleService } from '../../main/service/index.ts'

const LISTEN = ['/ip4/127.0.0.1/tcp/0']

async function until<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const value = await probe()
    if (value !== undefined) return value
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`never saw ${what}`)
}

describe('console service abuse limits', () => {
  const dirs: string[] = []
  const services: ConsoleService[] = []

  async function service(
    init: Partial<Parameters<typeof createConsoleService>[0]> = {}
  ): Promise<ConsoleService> {
    const dataDir = await mkdtemp(join(tmpdir(), 'taleus-limits-'))
    dirs.push(dataDir)
    const s = await createConsoleService({ dataDir, listen: LISTEN, mdns: false, ...init })
    services.push(s)
    await s.start()
    return s
  }

  let a: ConsoleService
  let customers: ConsoleService[]
  beforeAll(async () => {
    a = await service({ abuseLimits: { maxApprovalsPerToken: 1 } })
    customers = await Promise.all([service(), service()])
  })

  afterAll(async () => {
    await Promise.allSettled(services.map((s) => s.stop()))
    await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })))
  })

  it('answers busy once as many customers wait for the operator on one token as the limit allows', async () => {
    const { link } = await a.createToken({
      role: 'stock',
      uses: 'unlimited',
      label: 'approval desk',
      approval: 'operator',
      approvalTimeoutMs: 20_000
    })
    const first = await customers[0]!.dial({ link, identity: { name: 'Ann' } })
    const waiting = await until(async () => (await a.listApprovals())[0], 'the first customer waiting')
    // the guard's default (16) would let the second one wait too
    const second = await customers[1]!.dial({ link, identity: { name: 'Bob' } })
    const refused = await customers[1]!.waitDial({ sessionId: second.sessionId })
    expect(refused.ok).toBe(false)
    expect(refused.ok === false && refused.reason).toBe('busy')
    expect(await a.listApprovals()).toHaveLength(1)
    await a.decide({ sessionId: waiting.sessionId, decision: 'approve' })
    const served = await customers[0]!.waitDial({ sessionId: first.sessionId })
    expect(served.ok).toBe(true)
  })
})
