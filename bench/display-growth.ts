/**
 * A customer display's cost per customer in the store and the display's own bookkeeping (no network):
 * node bench/display-growth.ts DIR PRIOR COUNT — DIR is prefilled with PRIOR customers the display already
 * served (their used, archived tokens, in tokens.json as an older version left them), then COUNT more are
 * served: token check, use, the session's events as the display sees them, successor minted, used token
 * archived. Prints one JSON line: CPU and wall ms per customer. bench/run.js `display` compares PRIOR=0
 * with a long-serving display.
 */
import '../main/polyfill.ts'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { toValidatedToken } from '../main/bootstrap/token-info.ts'
import { Displays } from '../main/service/displays.ts'
import { openStore } from '../main/store/merchant-store.ts'
import { hashToken } from '../main/store/token-secret.ts'
import type { SessionEvent, SessionState, TokenView } from '../main/views/console-views.ts'

const [dataDir = '', priorArg = '0', countArg = '300'] = process.argv.slice(2)
const prior = Number(priorArg)
const count = Number(countArg)
const DISPLAY = 'dp_bench'
const STATES: Array<[SessionState | null, SessionState]> = [
  [null, 'L_PROCESS_CONTACT'],
  ['L_PROCESS_CONTACT', 'L_SEND_RESPONSE'],
  ['L_SEND_RESPONSE', 'L_AWAIT_ACK'],
  ['L_AWAIT_ACK', 'L_DONE']
]

const start = Date.now() - prior * 60_000
const tokens: Record<string, unknown> = {}
for (let i = 0; i < prior; i++) {
  const tokenId = `tk_${randomBytes(9).toString('base64url')}`
  tokens[tokenId] = {
    tokenId,
    tokenHash: hashToken(randomBytes(32).toString('base64url')),
    label: 'Till 1',
    role: 'stock',
    uses: 1,
    used: 1,
    expiresAt: null,
    revoked: false,
    identityRequirements: [],
    approval: 'auto',
    approvalTimeoutMs: 120_000,
    createdAt: start + i * 60_000,
    archived: true,
    mode: 'per-customer',
    displayId: DISPLAY
  }
}
await writeFile(join(dataDir, 'tokens.json'), JSON.stringify({ version: 1, settings: {}, tokens }), {
  mode: 0o600
})

const store = await openStore(dataDir)
const displays = new Displays({ store: () => store, linkFor: () => 'taleus:bench', push: () => {} })
// as the console runtime wires them (a version without onToken scans the tokens instead)
const onToken = (displays as { onToken?: (view: TokenView) => void }).onToken?.bind(displays)
if (onToken !== undefined)
  store.addEventListener('token', (e) => onToken((e as CustomEvent<TokenView>).detail))
await store.createToken({ role: 'stock', label: 'Till 1', mode: 'per-customer', displayId: DISPLAY } as never)
const hooks = store.hooks({ peerId: 'peer-A', multiaddrs: () => [] })

async function serve(n: number): Promise<void> {
  const current = displays.get(DISPLAY)
  const sessionId = `s${n}`
  const ctx = {
    sessionId,
    direction: 'inbound' as const,
    remotePeerId: 'peer-B',
    signal: new AbortController().signal
  }
  const info = await hooks.validateToken(store.tokenSecret(current.tokenId), ctx)
  await hooks.markTokenUsed!('token', sessionId, { ...ctx, token: toValidatedToken(info, 'token')! })
  const next = new Promise<void>((resolve) => {
    for (const [previousState, state] of STATES) {
      const event: SessionEvent = {
        sessionId,
        direction: 'inbound',
        state,
        previousState,
        at: Date.now(),
        peerId: 'peer-B',
        tokenId: current.tokenId
      }
      displays.onSession(event, () => resolve())
    }
  })
  await next
}

for (let n = 0; n < 20; n++) await serve(-1 - n)
const cpu = process.cpuUsage()
const t0 = performance.now()
for (let n = 0; n < count; n++) await serve(n)
const wall = performance.now() - t0
const used = process.cpuUsage(cpu)
await store.close()
console.log(
  JSON.stringify({
    prior,
    count,
    cpuMsPerCustomer: Math.round(((used.user + used.system) / 1000 / count) * 1000) / 1000,
    wallMsPerCustomer: Math.round((wall / count) * 1000) / 1000
  })
)
