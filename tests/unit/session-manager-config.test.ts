import { describe, expect, it } from 'vitest'
import { DEFAULT_SESSION_CONFIG, SessionManager } from '../../main/bootstrap/index.ts'
import type { SessionHooks } from '../../main/bootstrap/index.ts'

const hooks = {} as SessionHooks

describe('SessionManager config', () => {
  it('fills every default once, as documented', () => {
    const { config } = new SessionManager(hooks)
    expect(config).toEqual({
      sessionTimeoutMs: 30_000,
      stepTimeoutMs: 5_000,
      maxConcurrentSessions: 100,
      dialTimeoutMs: 20_000,
      identityBundle: {}
    })
    expect(DEFAULT_SESSION_CONFIG.dialTimeoutMs).toBe(20_000)
  })

  it('keeps what the caller set', () => {
    const { config } = new SessionManager(hooks, { dialTimeoutMs: 9000, identityBundle: { name: 'Ann' } })
    expect(config.dialTimeoutMs).toBe(9000)
    expect(config.identityBundle).toEqual({ name: 'Ann' })
  })
})
