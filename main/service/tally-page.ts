/**
 * A tally's page (its timeline from the audit trail, counterparty, token, status history and what the
 * other side was told) and the service's side of the list filters (shared with the screens in
 * main/views/list-filters.ts).
 */
import type {
  Decision,
  IdentityBundle,
  SessionEvent,
  TallyDetail,
  TallyView,
  TimelineEntry,
  TokenView
} from '../views/console-views.ts'
import type { TokenQuery } from '../views/console-queries.ts'
import { roleSentence } from '../views/roles.ts'
import { tokenMatches } from '../views/list-filters.ts'
import { ACTOR_WORDS, toOperationView } from './operations.ts'
import { REASON_MESSAGES } from '../bootstrap/reason-words.ts'

/** Plain words for each protocol state, from this node's point of view. */
const STATE_WORDS: Record<string, string> = {
  L_PROCESS_CONTACT: 'A customer made contact; checking the link and identity',
  L_SEND_RESPONSE: 'Contact accepted; answering the customer',
  L_AWAIT_ACK: 'Waiting for the customer to confirm',
  L_AWAIT_DATABASE: "Waiting for the customer's tally database",
  L_DONE: 'The tally is open',
  L_FAILED: 'The session failed',
  L_TIMEOUT: 'The session timed out',
  D_SEND_CONTACT: 'Contacting the other node',
  D_AWAIT_RESPONSE: 'Waiting for the other node to answer',
  D_HANDLE_RESPONSE: "Checking the other node's answer",
  D_SEND_ACK: 'Confirming the tally',
  D_SEND_DATABASE: "Sending the tally's database",
  D_AWAIT_ACK: 'Waiting for the other node to confirm',
  D_DONE: 'The tally is open',
  D_FAILED: 'The session failed',
  D_TIMEOUT: 'The session timed out'
}

const OP_WORDS: Record<string, string> = {
  approve: 'Identity approved',
  reject: 'Identity rejected',
  'token-create': 'Token created',
  'token-revoke': 'Token revoked',
  'token-archive': 'Token archived',
  export: 'Rows exported',
  'node-start': 'Node started',
  'node-stop': 'Node stopped',
  'display-next': 'Next customer QR made'
}

/** The words of one session step. */
export function stateText(state: string, reason?: string): string {
  const base = STATE_WORDS[state] ?? state
  const why = reason === undefined ? undefined : REASON_MESSAGES[reason as keyof typeof REASON_MESSAGES]
  return why === undefined ? base : `${base}: ${why}`
}

/** What getTally needs from the store. */
export interface TallySource {
  tally: TallyView
  events: SessionEvent[]
  /** Operator records about its session or tally (any order). */
  operations: Array<Record<string, unknown>>
  token?: TokenView
}

/** Build a tally's page. */
export function tallyDetail(src: TallySource): TallyDetail {
  const { tally } = src
  const timeline: TimelineEntry[] = []
  const told: TallyDetail['told'] = []
  for (const e of src.events) {
    const entry: TimelineEntry = {
      at: e.at,
      kind: 'session',
      text: stateText(e.state, e.reason),
      state: e.state
    }
    if (e.reason !== undefined) {
      entry.reason = e.reason
      const sent = tally.direction === 'inbound'
      told.push({
        at: e.at,
        reason: e.reason,
        text: `${sent ? 'We told the customer' : 'The other node told us'}: ${REASON_MESSAGES[e.reason]}`
      })
    }
    timeline.push(entry)
  }
  for (const r of src.operations) {
    const op = toOperationView(r)
    if (op === undefined) continue
    timeline.push({
      at: op.at,
      kind: 'operator',
      op: op.op,
      actor: op.actor,
      text: `${OP_WORDS[op.op] ?? op.op} (${ACTOR_WORDS[op.actor]})`
    })
    if (op.op === 'approve' || op.op === 'reject') {
      if (op.detail?.applied === false) continue
      told.push({
        at: op.at,
        decision: op.op as Decision,
        text:
          op.op === 'approve'
            ? 'We told the customer: your identity was accepted'
            : 'We told the customer: the identity was not accepted'
      })
    }
  }
  const statusHistory: TallyDetail['statusHistory'] = [{ status: 'draft', at: tally.createdAt }]
  if (tally.status !== 'draft') statusHistory.push({ status: tally.status, at: tally.updatedAt })
  for (const s of statusHistory)
    timeline.push({
      at: s.at,
      kind: 'status',
      status: s.status,
      text: `Tally ${STATUS_WORDS[s.status] ?? s.status}`
    })
  const order = { session: 0, status: 1, operator: 2 } as const
  timeline.sort((a, b) => a.at - b.at || order[a.kind] - order[b.kind])
  told.sort((a, b) => a.at - b.at)
  const detail: TallyDetail = {
    tally,
    timeline,
    statusHistory,
    told,
    roleText: roleSentence(tally.role, tally.direction)
  }
  if (src.token !== undefined) detail.token = src.token
  if (tally.counterpartyIdentity !== undefined)
    detail.counterpartyIdentity = { ...tally.counterpartyIdentity } as IdentityBundle
  return detail
}

const STATUS_WORDS: Record<string, string> = {
  draft: 'recorded as a draft',
  pending: "waiting for the other node's verdict",
  confirmed: 'confirmed',
  abandoned: 'abandoned'
}

/** The tokens that pass `q`; archived ones only when asked for. */
export function filterTokens(tokens: TokenView[], q: TokenQuery = {}): TokenView[] {
  return tokens.filter((t) => tokenMatches(t, q))
}
