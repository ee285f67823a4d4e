/**
 * Valibot schemas of every command's input. Unknown keys are refused so a typo is an error, not a
 * silently ignored option.
 */
import * as v from 'valibot'
import type { CommandName } from '../../preload/contract.ts'
import { LIST_MAX_LIMIT, MAX_APPROVAL_TIMEOUT_MS } from '../views/console-queries.ts'

const MAX_ID = 200
const id = v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(MAX_ID, 'is too long'))

/** Commands without input accept nothing, `null` or an empty object. */
const noInput = v.union([v.undefined(), v.null(), v.strictObject({})], 'this command takes no input')

const RESERVED_KEYS = new Set([
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty'
])

/** Identity field names: short words, none that means something to a JS object. */
const identityKey = v.pipe(
  v.string(),
  v.regex(/^[a-zA-Z][a-zA-Z0-9_-]{0,31}$/, 'identity field names are short words'),
  v.check((key) => !RESERVED_KEYS.has(key), 'this identity field name is reserved')
)

const identityBundle = v.pipe(
  // valibot's record silently drops `__proto__`/`constructor` keys; refuse them instead.
  v.custom<Record<string, unknown>>(
    (x) =>
      typeof x === 'object' &&
      x !== null &&
      !Array.isArray(x) &&
      Object.keys(x).every((k) => !RESERVED_KEYS.has(k)),
    'identity must be an object of short field names'
  ),
  v.record(identityKey, v.pipe(v.string(), v.maxLength(1000, 'identity value is too long'))),
  v.check((r) => Object.keys(r).length <= 32, 'too many identity fields')
)

/** Standing terms of a tally (issue I): limits in the tally's unit, a unit, a note. */
const creditLimit = v.pipe(
  v.number('a credit limit is a number'),
  v.finite(),
  v.minValue(0),
  v.maxValue(1e15)
)
const tallyTerms = v.strictObject({
  stockCreditLimit: v.optional(creditLimit),
  foilCreditLimit: v.optional(creditLimit),
  unit: v.optional(
    v.pipe(v.string(), v.trim(), v.minLength(1, 'unit is empty'), v.maxLength(32, 'unit is too long'))
  ),
  note: v.optional(v.pipe(v.string(), v.maxLength(2000, 'note is too long')))
})

const createToken = v.strictObject({
  role: v.picklist(['stock', 'foil'], 'role must be stock or foil'),
  label: v.optional(v.pipe(v.string(), v.maxLength(200, 'label is too long'))),
  uses: v.optional(
    v.union(
      [v.literal('unlimited'), v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1_000_000_000))],
      'uses must be a whole number ≥ 1 or "unlimited"'
    )
  ),
  expiresInMs: v.optional(
    v.pipe(
      v.number('expiresInMs must be a number'),
      v.integer(),
      v.minValue(1000, 'expiry must be at least 1 s'),
      v.maxValue(10 * 365 * 86_400_000, 'expiry is too far away')
    )
  ),
  identityRequirements: v.optional(
    v.pipe(v.array(identityKey), v.maxLength(32, 'too many identity requirements'))
  ),
  approval: v.optional(v.picklist(['auto', 'operator'], 'approval must be auto or operator')),
  approvalTimeoutMs: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(1000), v.maxValue(MAX_APPROVAL_TIMEOUT_MS))
  ),
  terms: v.optional(tallyTerms),
  mode: v.optional(v.picklist(['single', 'per-customer'], 'mode must be single or per-customer'))
})

const tokenRef = v.strictObject({ tokenId: id })
const sessionRef = v.strictObject({ sessionId: id })

/** A page's fields (PageQuery). */
const pageFields = {
  limit: v.optional(
    v.pipe(
      v.number(),
      v.integer(),
      v.minValue(1),
      v.maxValue(LIST_MAX_LIMIT, `at most ${LIST_MAX_LIMIT} items per page`)
    )
  ),
  before: v.optional(v.pipe(v.number(), v.finite())),
  beforeId: v.optional(id)
}

/** Input of the paged list commands (PageQuery). */
const pageQuery = v.optional(v.strictObject(pageFields), {})

const epochMs = v.pipe(v.number('must be epoch milliseconds'), v.finite(), v.minValue(0))
const searchText = v.pipe(v.string(), v.maxLength(200, 'the search text is too long'))
const tallyFilters = {
  q: v.optional(searchText),
  from: v.optional(epochMs),
  to: v.optional(epochMs),
  status: v.optional(v.picklist(['draft', 'pending', 'confirmed', 'abandoned'], 'not a tally status'))
}
const tokenFilters = {
  q: v.optional(searchText),
  from: v.optional(epochMs),
  to: v.optional(epochMs),
  status: v.optional(v.picklist(['active', 'expired', 'revoked', 'used-up'], 'not a token status')),
  archived: v.optional(v.boolean('archived must be true or false'))
}

const auditFilters = {
  limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10_000))),
  before: v.optional(v.pipe(v.number(), v.finite()))
}
const exportFormat = v.picklist(['csv', 'json'], 'format must be csv or json')

/** Input of listTallies (TallyQuery): a page plus filters. */
const tallyQuery = v.optional(v.strictObject({ ...pageFields, ...tallyFilters }), {})

/** Input of listTokens (TokenQuery): a page plus filters; none lists the newest unarchived tokens. */
const tokenQuery = v.nullish(v.strictObject({ ...pageFields, ...tokenFilters }))

/** Input schema of each command. */
export const INPUT_SCHEMAS = {
  getNodeInfo: noInput,
  listTokens: tokenQuery,
  createToken,
  getTokenLink: tokenRef,
  revokeToken: tokenRef,
  listSessions: pageQuery,
  getSessionEvents: sessionRef,
  listApprovals: noInput,
  decide: v.strictObject({
    sessionId: id,
    decision: v.picklist(['approve', 'reject'], 'decision must be approve or reject')
  }),
  listTallies: tallyQuery,
  dial: v.strictObject({
    link: v.pipe(
      v.string('link must be text'),
      v.minLength(1, 'link must not be empty'),
      v.maxLength(4096, 'link is too long')
    ),
    identity: v.optional(identityBundle)
  }),
  waitDial: sessionRef,
  listAudit: v.optional(
    v.strictObject({
      limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10_000))),
      before: v.optional(v.pipe(v.number(), v.finite())),
      sessionId: v.optional(id)
    }),
    {}
  ),
  getTallyDocument: v.strictObject({ tallyId: id }),
  proposeTerms: v.strictObject({ tallyId: id, terms: tallyTerms }),
  acceptProposal: v.strictObject({ tallyId: id, proposalId: id }),
  closeProposal: v.strictObject({
    tallyId: id,
    proposalId: id,
    how: v.picklist(['withdrawn', 'declined'], 'how must be withdrawn or declined')
  }),
  listPeers: noInput,
  verifyAudit: noInput,
  listOperations: v.optional(
    v.strictObject({
      limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(5000))),
      before: v.optional(v.pipe(v.number(), v.finite()))
    }),
    {}
  ),
  getTally: v.strictObject({ tallyId: id }),
  archiveToken: tokenRef,
  exportRows: v.variant(
    'what',
    [
      v.strictObject({
        what: v.literal('tallies'),
        format: exportFormat,
        query: v.optional(v.strictObject(tallyFilters, 'query: the filters of the tallies list'))
      }),
      v.strictObject({
        what: v.literal('tokens'),
        format: exportFormat,
        query: v.optional(v.strictObject(tokenFilters, 'query: the filters of the tokens list'))
      }),
      v.strictObject({
        what: v.literal('audit'),
        format: exportFormat,
        query: v.optional(v.strictObject(auditFilters, 'query: limit and before of the audit rows'))
      })
    ],
    'what must be tallies, tokens or audit'
  ),
  getDisplay: v.strictObject({ displayId: id }),
  closeDisplay: v.strictObject({ displayId: id }),
  getStoreSetting: noInput,
  setStoreSetting: v.variant(
    'kind',
    [
      v.strictObject({ kind: v.literal('lowdb') }),
      v.strictObject({
        kind: v.literal('postgres'),
        url: v.pipe(
          v.string('url must be text'),
          v.maxLength(2048, 'url is too long'),
          v.regex(/^postgres(ql)?:\/\/[^\s]+$/, 'url must start with postgres:// and hold no spaces')
        ),
        // never echoed: a message about it names the field, not its value
        password: v.optional(
          v.pipe(v.string('password must be text'), v.maxLength(1000, 'password is too long'))
        )
      })
    ],
    'kind must be lowdb or postgres'
  )
} as const satisfies Record<CommandName, v.GenericSchema>

/** Query-string keys that carry numbers (GET inputs); everything else stays text unless it is JSON. */
export const NUMERIC_QUERY_KEYS: ReadonlySet<string> = new Set(['limit', 'before', 'from', 'to'])

/** Query-string keys that carry true/false (GET inputs). */
export const BOOLEAN_QUERY_KEYS: ReadonlySet<string> = new Set(['archived'])
