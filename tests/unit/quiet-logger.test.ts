import { describe, expect, it } from 'vitest'
import { quietLogger } from '../../main/node/quiet-logger.ts'

describe('quietLogger', () => {
  it('is one shared silent logger for every component and scope when DEBUG is unset', () => {
    const logger = quietLogger('')
    expect(logger).toBeDefined()
    const log = logger!.forComponent('libp2p:connection')
    expect(log.enabled).toBe(false)
    expect(log.newScope('inbound:1')).toBe(log)
    expect(logger!.forComponent('libp2p:yamux')).toBe(log)
    expect(() => {
      log('a %s', 'message')
      log.error('an error %e', new Error('x'))
      log.trace('a trace')
    }).not.toThrow()
    expect(quietLogger(undefined)).toBe(logger)
  })

  it('leaves libp2p its own logger when DEBUG is set', () => {
    expect(quietLogger('libp2p*')).toBeUndefined()
  })
})
