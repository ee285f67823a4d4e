/**
 * The list filters and order of the Tallies and Tokens screens, shared by the renderer (what a list shows)
 * and the service (listTallies, listTokens, exportRows) so that an export holds exactly the rows on screen.
 * Pure: no DOM or Node imports.
 */
import type { TallyView, TokenView } from './console-views.ts'
import type { TallyQuery, TokenQuery } from './console-queries.ts'

function matches(text: string, fields: ReadonlyArray<string | undefined>): boolean {
  const needle = text.trim().toLowerCase()
  if (needle === '') return true
  return fields.some((f) => f !== undefined && f.toLowerCase().includes(needle))
}

function inRange(at: number, from: number | undefined, to: number | undefined): boolean {
  return (from === undefined || at >= from) && (to === undefined || at < to)
}

/** True when a tally query has a filter (else the store's paging alone answers it). */
export function hasTallyFilter(q: TallyQuery): boolean {
  return q.q !== undefined || q.from !== undefined || q.to !== undefined || q.status !== undefined
}

/** True when a tally passes the filters of `q` (paging aside): status, created in [from, to), search words. */
export function tallyMatches(t: TallyView, q: TallyQuery): boolean {
  if (q.status !== undefined && t.status !== q.status) return false
  if (!inRange(t.createdAt, q.from, q.to)) return false
  if (q.q === undefined) return true
  const identity = t.counterpartyIdentity == null ? [] : Object.values(t.counterpartyIdentity)
  return matches(q.q, [
    t.tallyId,
    t.counterpartyPeerId,
    t.counterpartyName,
    t.tokenId,
    t.tokenLabel,
    t.sessionId,
    ...identity
  ])
}

/** True when a token query filters by text, status or dates (archived alone only widens the list). */
export function hasTokenFilter(q: TokenQuery): boolean {
  return q.q !== undefined || q.from !== undefined || q.to !== undefined || q.status !== undefined
}

/** True when a token passes the filters of `q`; an archived one only when `q.archived` asks for it. */
export function tokenMatches(t: TokenView, q: TokenQuery): boolean {
  return (
    (q.archived === true || t.archived !== true) &&
    (q.status === undefined || t.status === q.status) &&
    inRange(t.createdAt, q.from, q.to) &&
    (q.q === undefined || matches(q.q, [t.tokenId, t.label]))
  )
}

/** The lists' order of tallies: newest first, then by id. */
export function compareTallies(a: TallyView, b: TallyView): number {
  return b.createdAt - a.createdAt || (a.tallyId < b.tallyId ? -1 : a.tallyId > b.tallyId ? 1 : 0)
}

/** The lists' order of tokens: newest first, then by id. */
export function compareTokens(a: TokenView, b: TokenView): number {
  return b.createdAt - a.createdAt || (a.tokenId < b.tokenId ? -1 : a.tokenId > b.tokenId ? 1 : 0)
}
