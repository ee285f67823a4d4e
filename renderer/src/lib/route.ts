/** The console's address: `#/screen`, `#/tally/<id>` or `#/display/<tokenId>`, optionally `&secret=…`. */

/** A screen of the console. */
export type Screen = 'tokens' | 'sessions' | 'approvals' | 'dial' | 'tallies' | 'node'

/** Where the console is. */
export type Route =
  { screen: Screen } | { screen: 'tally'; tallyId: string } | { screen: 'display'; tokenId: string }

const SCREENS = new Set<string>(['tokens', 'sessions', 'approvals', 'dial', 'tallies', 'node'])

/** The route of a location hash; anything unknown is the Tokens screen. */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '').split('&')[0] ?? ''
  const parts = path.split('/').filter((p) => p !== '')
  const [first, second] = parts
  if (first === 'tally' && second != null) return { screen: 'tally', tallyId: decodeURIComponent(second) }
  if (first === 'display' && second != null) return { screen: 'display', tokenId: decodeURIComponent(second) }
  if (first != null && SCREENS.has(first)) return { screen: first as Screen }
  return { screen: 'tokens' }
}

/** The hash of a route. */
export function routeHash(route: Route): string {
  if (route.screen === 'tally') return `#/tally/${encodeURIComponent(route.tallyId)}`
  if (route.screen === 'display') return `#/display/${encodeURIComponent(route.tokenId)}`
  return `#/${route.screen}`
}

/** The hash without its `secret=` part (what may stay in the address bar and history). */
export function withoutSecret(hash: string): string {
  const parts = hash
    .replace(/^#/, '')
    .split('&')
    .filter((p) => p !== '' && !p.startsWith('secret='))
  return parts.length === 0 ? '' : `#${parts.join('&')}`
}
