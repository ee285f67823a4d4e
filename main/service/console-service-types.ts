/** What the console service is created with, and what it offers: the TaleusApi plus its lifecycle. */
import type { SessionEvent, TallyView } from '../views/console-views.ts'
import type { Actor } from '../views/console-queries.ts'
import type { TaleusApi } from '../../preload/contract.ts'
import type { AbuseLimits } from '../bootstrap/index.ts'
import type { SyntheticSessionsInput } from './bench-sessions.ts'

/** Options of createConsoleService. */
export interface ConsoleServiceInit {
  /** Folder of the store and the peer key (created if missing). */
  dataDir: string
  /**
   * Listen multiaddrs. Default: every interface (customers reach a merchant over the LAN) at the port of
   * the last run, so printed QR codes survive a restart (listen-port.ts); any free port the first time.
   */
  listen?: string[]
  /** Told what the node did differently than asked (a saved port taken); a shell shows it. */
  onWarning?: (words: string) => void
  /** Discover peers on the LAN. Default true. */
  mdns?: boolean
  sessionTimeoutMs?: number
  stepTimeoutMs?: number
  maxConcurrentSessions?: number
  /**
   * Limits of the SessionManager's abuse guard (taleus/bootstrap's AbuseLimits; unset fields keep their
   * defaults), e.g. a merchant whose approval token has more than 16 customers waiting at once.
   */
  abuseLimits?: Partial<AbuseLimits>
  /** Finished session rows kept in the live table. Default 5000. */
  maxSessionRows?: number
  /** Longest an event waits before a subscriber gets it. Default 50. */
  eventIntervalMs?: number
  /** Serve and open the shared tally documents (issue I). Default true; false: the bootstrap alone (bench). */
  tallyDb?: boolean
  /**
   * Where the store lives: a postgres:// URL shares one store with the merchant's other nodes (a cadre,
   * see docs/architecture.md). Default: env TALEUS_STORE if it is such a URL, else the lowdb store in dataDir.
   */
  store?: string
  /** The shell running this node, named in the audit trail's node-start and node-stop. Default `system`. */
  actor?: Actor
  /** Backoff of the verdict queries of pending tallies (ms). Default 1 s doubling up to 5 min. */
  verdictRetry?: { initialMs?: number; maxMs?: number }
}

/** The running console: the whole TaleusApi plus its lifecycle. */
export interface ConsoleService extends TaleusApi {
  start(): Promise<void>
  /** Stop the manager (sessions end), the node and the store; safe to call twice. */
  stop(): Promise<void>
  readonly peerId: string
  /** Dialable addresses of this node, each ending in /p2p/<peerId>. */
  multiaddrs(): string[]
  /** Load tests only: push synthetic sessions through the live table and event stream; refused unless TALEUS_BENCH=1. */
  injectSyntheticSessions(input: SyntheticSessionsInput): Promise<{ injected: number }>
  /**
   * Asks every pending tally's counterparty once, now; resolves with the tallies still pending after that
   * (their counterparty unreachable or not sure yet), each with its next try.
   */
  checkPendingTallies(): Promise<TallyView[]>
  /** Load tests only: push caller-paced synthetic SessionEvents through the live table and event stream; refused unless TALEUS_BENCH=1. */
  injectSessionEvents?(input: { events: SessionEvent[] }): Promise<{ injected: number }>
}
