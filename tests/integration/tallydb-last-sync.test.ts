/** lastSyncAt counts the bootstrap's handover of the document: both sides synced when the tally opened. */
import { afterEach, describe, expect, it } from 'vitest'
import type { PartyRole } from '../../main/bootstrap/index.ts'
import { DbWorld } from '../helpers/tallydb-party.ts'

describe('tally document lastSyncAt', () => {
  const world = new DbWorld()
  afterEach(async () => world.close())

  it.each<PartyRole>(['stock', 'foil'])(
    '%s: both sides say when they synced, right after the bootstrap',
    async (role) => {
      const a = await world.party({ listen: true })
      const b = await world.party()
      const before = Date.now()
      const { link } = await a.createToken({ role, uses: 1 })
      const result = await b.manager.initiateBootstrap(link, b.node)
      const tallyId = result.tally.tallyId
      for (const party of [a, b]) {
        const view = await party.db.read(tallyId)
        expect(view?.lastSyncAt).toBeGreaterThanOrEqual(before)
      }
    }
  )
})
