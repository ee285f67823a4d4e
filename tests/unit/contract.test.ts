/** commandsVia: every command of the contract goes through the one transport call, name and input intact. */
import { describe, expect, it } from 'vitest'
import { ROUTES, commandsVia, type CommandName } from '../../preload/contract.ts'

describe('commandsVia', () => {
  it('builds one function per route and forwards the name and input', async () => {
    const calls: [CommandName, unknown][] = []
    const commands = commandsVia(async (name, input) => {
      calls.push([name, input])
      return `reply of ${name}`
    })
    expect(Object.keys(commands).sort()).toEqual(Object.keys(ROUTES).sort())
    await expect(commands.revokeToken({ tokenId: 'tk_1' })).resolves.toBe('reply of revokeToken')
    await commands.listTokens()
    expect(calls).toEqual([
      ['revokeToken', { tokenId: 'tk_1' }],
      ['listTokens', undefined]
    ])
  })
})
