/**
 * `--import` preload of the crash-verdict children (never part of the product): lengthens the protocol's
 * timeouts and lifts the per-peer bounds so 100 sessions of one dialer can be held at once, shortens the
 * verdict retry, and — when TALEUS_CRASH_PLAN names steps — holds sessions at each step (a quota per
 * step) and SIGKILLs this process once every step holds its quota, so the kill lands with sessions
 * sitting at every step of the flow.
 */
import '../../main/polyfill.ts'
import { DEFAULT_ABUSE_LIMITS, NO_RATE_LIMIT } from '../../main/bootstrap/abuse-guard.ts'
import { FrameStream } from '../../main/bootstrap/frames.ts'
import type { Message } from '../../main/bootstrap/messages.ts'
import { DEFAULT_SESSION_CONFIG } from '../../main/bootstrap/session-manager.ts'
import type { HookContext, SessionHooks } from '../../main/bootstrap/types.ts'
import { DEFAULT_VERDICT_RETRY } from '../../main/service/verdict-recovery.ts'
import { LowdbMerchantStore } from '../../main/store/merchant-store.ts'
import { DRAFT_ANSWER } from '../../main/store/store-hooks.ts'
import { TallyLedger } from '../../main/store/tally-ledger.ts'
import type { TallyRecord } from '../../main/store/tally-book.ts'
import { PgMerchantStore } from '../../main/store/pg/pg-store.ts'
import type { LocalNode } from '../../main/store/types.ts'

/** What the test asks of this child. */
interface CrashPlan {
  steps: string[]
  quota: number
}

// a held session must not time out on the other side before the kill
Object.assign(DEFAULT_SESSION_CONFIG, { stepTimeoutMs: 60_000, sessionTimeoutMs: 120_000 })
Object.assign(DEFAULT_ABUSE_LIMITS, {
  maxSessionsPerPeer: 10_000,
  abandonedPerPeer: NO_RATE_LIMIT,
  abandonedPerToken: NO_RATE_LIMIT
})
Object.assign(DEFAULT_VERDICT_RETRY, { initialMs: 250, maxMs: 2_000 })
// every held draft is answered before its write, not only a lone one: the kill finds many of them
Object.assign(DRAFT_ANSWER, { beforeWrite: 'always' })

const plan = process.env.TALEUS_CRASH_PLAN
  ? (JSON.parse(process.env.TALEUS_CRASH_PLAN) as CrashPlan)
  : undefined

if (plan !== undefined) {
  const held = new Map<string, number>(plan.steps.map((s) => [s, 0]))
  const holding = new Set<unknown>()
  const never = new Promise<never>(() => {})

  /** A session (`key`) reached `step`: hold it there while the step's quota is not full; kill when all are. */
  const reach = async (step: string, key: unknown): Promise<void> => {
    const n = held.get(step)
    if (n === undefined || n >= plan.quota || holding.has(key)) return
    held.set(step, n + 1)
    holding.add(key)
    process.stderr.write(`crash-plan: ${step} ${n + 1}/${plan.quota}\n`)
    if ([...held.values()].every((c) => c >= plan.quota)) {
      process.stderr.write('crash-plan: every step holds its quota: SIGKILL\n')
      process.kill(process.pid, 'SIGKILL')
    }
    await never
  }

  /** Count a session at `step` without holding it (it goes on); kill when every step holds its quota. */
  const count = (step: string): void => {
    held.set(step, (held.get(step) ?? 0) + 1)
    process.stderr.write(`crash-plan: ${step} ${held.get(step)}/${plan.quota}\n`)
    if ([...held.values()].every((c) => c >= plan.quota)) {
      process.stderr.write('crash-plan: every step holds its quota: SIGKILL\n')
      process.kill(process.pid, 'SIGKILL')
    }
  }

  // protocol steps: a frame of this type was written to the other party
  const write = FrameStream.prototype.write
  FrameStream.prototype.write = async function (this: FrameStream, message: Message, options) {
    await write.call(this, message, options)
    const tallyId =
      message.type === 'ProvisioningResult' && message.approved
        ? message.provisionResult?.tally.tallyId
        : undefined
    if (tallyId !== undefined && unwritten.has(tallyId)) return
    const ok = message.type === 'Ack' ? (message.ok ? '-ok' : '-refused') : ''
    await reach(`sent-${message.type}${ok}`, this.stream)
  }

  // store steps: a tally recorded or settled, on either store
  const withSteps = (h: SessionHooks): SessionHooks => {
    const key = (ctx: HookContext): string => ctx.sessionId
    return {
      ...h,
      provisionDatabase: async (role, initiator, respondent, sessionId, ctx) => {
        const result = await h.provisionDatabase(role, initiator, respondent, sessionId, ctx)
        await reach('draft-recorded', key(ctx))
        return result
      },
      validateResponse: async (response, ctx) => {
        const ok = await h.validateResponse!(response, ctx)
        if (ok && response.provisionResult != null) await reach('draft-recorded', key(ctx))
        return ok
      },
      validateDatabaseResult: async (result, ctx) => {
        const ok = await h.validateDatabaseResult!(result, ctx)
        if (ok) await reach('draft-recorded', key(ctx))
        return ok
      },
      settleTally: async (tallyId, outcome, ctx) => {
        if (outcome === 'confirmed' && unwritten.has(tallyId)) {
          const settling = h.settleTally!(tallyId, outcome, ctx)
          count('draft-unwritten')
          return settling
        }
        if (outcome === 'confirmed') await reach('confirming', key(ctx))
        await h.settleTally!(tallyId, outcome, ctx)
        if (outcome === 'confirmed') await reach('confirmed', key(ctx))
      }
    }
  }
  // A lowdb listener answers before its draft's writes are done (the document's; the draft itself is held
  // until it settles): `record` stands for them here. The first `quota` such drafts never reach the disk:
  // their sessions go on (answer sent, Ack received) and are counted once A confirms them, which it must
  // not do before the write; the kill then finds each of them waiting for it.
  const unwritten = new Set<string>()
  const record = TallyLedger.prototype.record
  TallyLedger.prototype.record = async function (this: TallyLedger, r: TallyRecord): Promise<void> {
    if (
      held.has('draft-unwritten') &&
      r.direction === 'inbound' &&
      r.role === 'stock' &&
      unwritten.size < plan.quota
    ) {
      unwritten.add(r.tallyId)
      // no other step holds these sessions: they must reach their confirmation
      holding.add(r.sessionId)
      return never
    }
    return record.call(this, r)
  }
  const lowdbHooks = LowdbMerchantStore.prototype.hooks
  LowdbMerchantStore.prototype.hooks = function (this: LowdbMerchantStore, node: LocalNode): SessionHooks {
    return withSteps(lowdbHooks.call(this, node))
  }
  const pgHooks = PgMerchantStore.prototype.hooks
  PgMerchantStore.prototype.hooks = function (this: PgMerchantStore, node: LocalNode): SessionHooks {
    return withSteps(pgHooks.call(this, node))
  }
}
