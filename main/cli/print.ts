/** How a command prints its result: JSON for programs, lines of text for a person. */
import { printable } from './terminal-text.ts'

/**
 * Write `value` as one JSON line, or `human()`'s lines. Each human line passes through printable() as a
 * last guard for a foreign string a formatter missed; a newline inside one must be escaped where it is
 * put in the line, since here it is taken for one of ours.
 */
export function print(json: boolean | undefined, value: unknown, human: () => string): void {
  const text = json === true ? JSON.stringify(value) : human().split('\n').map(printable).join('\n')
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
}
