/** `taleus serve`'s flags as the console service receives them. */
import { describe, expect, it } from 'vitest'
import { DEFAULT_ABUSE_LIMITS } from '../../main/bootstrap/index.ts'
import { serviceLimits } from '../../main/cli/serve.ts'
import { parseTallyBurst } from '../../main/cli/parse-args.ts'

describe('serve options', () => {
  it('--token-tally-burst sets the burst of confirmedPerToken and keeps its rate; no flag, the defaults', () => {
    expect(serviceLimits({})).toEqual({})
    expect(serviceLimits({ tokenTallyBurst: parseTallyBurst('5000') })).toEqual({
      abuseLimits: {
        confirmedPerToken: { burst: 5000, perSecond: DEFAULT_ABUSE_LIMITS.confirmedPerToken.perSecond }
      }
    })
    expect(() => parseTallyBurst('lots')).toThrow(/--token-tally-burst/)
    expect(() => parseTallyBurst('0')).toThrow(/--token-tally-burst/)
  })
})
