/**
 * The operator's commands of the console service that live beside its protocol work: the audit trail's
 * operator records and their check, tally pages, list filters, exports, token archiving and customer
 * displays. console-service.ts delegates to this so that file stays about the node and its sessions.
 */
import type { DisplayView, SessionEvent, TallyDetail, TallyView, TokenView } from '../views/console-views.ts'
import type {
  AuditQuery,
  AuditVerifyResult,
  ExportInput,
  ExportResult,
  OperationView,
  TallyQuery,
  TokenQuery
} from '../views/console-queries.ts'
import { AUDIT_COLUMNS, TOKEN_COLUMNS, tallyColumns } from '../views/export-columns.ts'
import { compareTallies, compareTokens, hasTallyFilter, tallyMatches } from '../views/list-filters.ts'
import { ApiError } from './api-error.ts'
import { pageOf } from '../store/paging.ts'
import type { MerchantStore } from '../store/types.ts'
import { Displays } from './displays.ts'
import { actorOf, toOperationView } from './operations.ts'
import type { CallContext } from './operations.ts'
import { exportFile } from './export-rows.ts'
import { filterTokens, tallyDetail } from './tally-page.ts'

/** What the desk needs from the service. */
export interface OperatorDeskInit {
  /** The running store (throws not-running otherwise). */
  store: () => MerchantStore
  linkFor: (view: TokenView, token: string) => string
  pushDisplay: (view: DisplayView) => void
  now?: () => number
}

/** Most rows one export holds. */
const MAX_EXPORT_ROWS = 100_000
/** Most audit rows one export holds: as many as the Node screen can list (listAudit's limit). */
const MAX_AUDIT_ROWS = 10_000

/** Operator commands over the store. */
export class OperatorDesk {
  readonly displays: Displays
  readonly #init: OperatorDeskInit
  readonly #now: () => number

  constructor(init: OperatorDeskInit) {
    this.#init = init
    this.#now = init.now ?? Date.now
    this.displays = new Displays({
      store: init.store,
      linkFor: init.linkFor,
      push: init.pushDisplay,
      now: this.#now
    })
  }

  /** Record an operator action with who did it. */
  record(
    op: string,
    ctx: CallContext | undefined,
    fields: {
      sessionId?: string
      tokenId?: string
      tallyId?: string
      detail?: Record<string, string | number | boolean>
    } = {}
  ): void {
    this.#init.store().recordOperation?.({ op, actor: actorOf(ctx), at: this.#now(), ...fields })
  }

  /** Tokens, newest first, filtered then paged; archived ones hidden unless asked for. */
  listTokens(query: TokenQuery | undefined): TokenView[] {
    const q = query ?? {}
    return pageOf(
      filterTokens(this.#init.store().listTokens(), q),
      (t) => t.createdAt,
      (t) => t.tokenId,
      q
    )
  }

  /** Tallies, newest first, filtered then paged. */
  listTallies(query: TallyQuery | undefined): TallyView[] {
    const store = this.#init.store()
    const q = query ?? {}
    if (!hasTallyFilter(q)) return store.listTallies(q)
    return pageOf(
      store.listTallies().filter((t) => tallyMatches(t, q)),
      (t) => t.createdAt,
      (t) => t.tallyId,
      q
    )
  }

  async verifyAudit(): Promise<AuditVerifyResult> {
    const store = this.#init.store()
    if (store.verifyAudit === undefined)
      throw new ApiError('not-supported', 501, 'this store keeps no hash-chained audit trail')
    const report = await store.verifyAudit()
    const result: AuditVerifyResult = {
      ok: report.ok,
      records: report.records,
      files: report.files,
      unchained: report.unchained,
      anchored: report.anchored
    }
    if (report.head !== undefined) result.head = report.head
    if (report.firstBreak !== undefined) result.firstBreak = { ...report.firstBreak }
    return result
  }

  async listOperations(input: { limit?: number; before?: number } | undefined): Promise<OperationView[]> {
    const store = this.#init.store()
    if (store.queryAuditRecords === undefined) return []
    const before = input?.before
    const records = await store.queryAuditRecords(
      (r) =>
        typeof r.op === 'string' && (before === undefined || (typeof r.at === 'number' && r.at < before)),
      input?.limit ?? 200
    )
    return records.map(toOperationView).filter((v): v is OperationView => v !== undefined)
  }

  async getTally(tallyId: string): Promise<TallyDetail> {
    const store = this.#init.store()
    const found = store.getTally?.(tallyId) ?? store.listTallies().find((t) => t.tallyId === tallyId)
    if (found === undefined) throw new ApiError('not-found', 404, 'no such tally on this node')
    // never the credentials or the protocol record: the view's fields only
    const {
      tally: _t,
      dbConnectionInfo: _d,
      ...view
    } = found as TallyView & { tally?: unknown; dbConnectionInfo?: unknown }
    const tally = view as TallyView
    const sessionId = tally.sessionId
    const events: SessionEvent[] =
      store.queryAudit === undefined
        ? store.listAudit({ sessionId, limit: 1000 })
        : await store.queryAudit({ sessionId, limit: 1000 })
    events.reverse()
    const operations =
      store.queryAuditRecords === undefined
        ? []
        : await store.queryAuditRecords(
            (r) => typeof r.op === 'string' && (r.sessionId === sessionId || r.tallyId === tallyId),
            100,
            // everything about this tally was written after its session's first event
            (r) => r.sessionId === sessionId && r.previousState === null && typeof r.state === 'string'
          )
    const token = tally.tokenId === undefined ? undefined : store.getToken(tally.tokenId)
    return tallyDetail({ tally, events, operations, ...(token === undefined ? {} : { token }) })
  }

  async archiveToken(tokenId: string, ctx: CallContext | undefined): Promise<TokenView> {
    const store = this.#init.store()
    const token = store.getToken(tokenId)
    if (token === undefined) throw new ApiError('not-found', 404, 'no such token on this node')
    if (token.status === 'active')
      throw new ApiError('bad-input', 400, 'an active token cannot be archived: revoke it first')
    if (store.archiveToken === undefined)
      throw new ApiError('not-supported', 501, 'this store cannot archive tokens')
    const view = await store.archiveToken(tokenId)
    this.record('token-archive', ctx, { tokenId })
    return view
  }

  exportRows(input: ExportInput, ctx: CallContext | undefined): ExportResult {
    const result = this.#exportFile(input)
    const detail: Record<string, string | number | boolean> = {
      what: input.what,
      format: input.format,
      rows: result.rows
    }
    // the filters, never anything secret (they are search words and dates)
    for (const [k, v] of Object.entries(input.query ?? {}))
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') detail[`filter.${k}`] = v
    this.record('export', ctx, { detail })
    return result
  }

  /** The file of an export: the rows the screen lists, in its order, with its columns. */
  #exportFile(input: ExportInput): ExportResult {
    const store = this.#init.store()
    const now = this.#now()
    if (input.what === 'audit') {
      const q = (input.query ?? {}) as AuditQuery
      const query: AuditQuery = { limit: Math.min(q.limit ?? 200, MAX_AUDIT_ROWS) }
      if (q.before !== undefined) query.before = q.before
      return exportFile('audit', input.format, store.listAudit(query), AUDIT_COLUMNS, now)
    }
    if (input.what === 'tokens') {
      // every matching token, not a page: an export holds what the filters select
      const rows = filterTokens(store.listTokens(), (input.query ?? {}) as TokenQuery)
        .sort(compareTokens)
        .slice(0, MAX_EXPORT_ROWS)
      return exportFile('tokens', input.format, rows, TOKEN_COLUMNS, now)
    }
    const q = (input.query ?? {}) as TallyQuery
    const rows = store
      .listTallies()
      .filter((t) => tallyMatches(t, q))
      .sort(compareTallies)
      .slice(0, MAX_EXPORT_ROWS)
    return exportFile('tallies', input.format, rows, tallyColumns(rows), now)
  }
}
