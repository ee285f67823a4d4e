/** How the CLI reports a failure: one `taleus: …` line on stderr, and the exit code. */
import { CommanderError } from 'commander'
import { CliError } from './cli-error.ts'
import { printable } from './terminal-text.ts'

/** Errors whose message says what happened and what to do (main/store/errors.ts, main/service/listen-port.ts). */
const WORDED_ERRORS: ReadonlySet<string> = new Set([
  'ListenError',
  'StoreLockedError',
  'StoreWriteError',
  'StoreCorruptError',
  'StoreFullError',
  'StoreNewerError',
  'JournalCorruptError'
])

/** Writes `err` as one stderr line and returns the exit code: 2 for bad arguments, else 1 (0: help). */
export function reportError(err: unknown): number {
  const line = (text: string): void => {
    // messages quote the node's answers and the counterparty's refusals: shown, never obeyed
    process.stderr.write(`taleus: ${printable(text)}\n`)
  }
  if (err instanceof CommanderError) {
    // --help and --version are not errors; a missing command already printed the help (exit 1).
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0
    if (err.code === 'commander.help') return err.exitCode
    const message = err.message.replace(/^error:\s*/, '').split('\n')[0] ?? 'bad arguments'
    line(message)
    return err.exitCode === 0 ? 0 : 2
  }
  if (err instanceof CliError) {
    line(err.message.split('\n')[0] ?? '')
    return err.exitCode
  }
  const name = err instanceof Error ? err.name : 'Error'
  const message = (err instanceof Error ? err.message.split('\n')[0] : String(err)) ?? ''
  // the store's failures are worded for the person reading them; other errors keep their class name
  line(WORDED_ERRORS.has(name) ? message : `${name}: ${message}`)
  return 1
}
