/**
 * A libp2p component logger that costs nothing unless DEBUG is set.
 *
 * libp2p's default logger builds two or three `debug` instances (each matching its name against the
 * DEBUG patterns) for every new connection and stream scope, even when nothing is enabled: measurable
 * per fresh customer in a rush (docs/performance.md). With DEBUG unset every component, scope and level
 * here is one shared no-op; with DEBUG set this returns undefined and libp2p uses its own logger, so
 * `DEBUG=libp2p*` still works.
 */
import type { ComponentLogger, Logger } from '@libp2p/interface'

function noop(): void {}

/** The one silent logger: every scope below it is itself. */
const SILENT: Logger = Object.assign(noop, {
  error: noop,
  trace: noop,
  enabled: false,
  newScope: (): Logger => SILENT
})

const QUIET: ComponentLogger = { forComponent: () => SILENT }

/** A silent logger, or undefined (libp2p's default) when `debug` (default: the DEBUG variable) is non-empty. */
export function quietLogger(debug: string | undefined = process.env.DEBUG): ComponentLogger | undefined {
  return debug != null && debug !== '' ? undefined : QUIET
}
