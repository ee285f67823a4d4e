/**
 * Ending the CLI without losing output. A pipe takes at most its buffer (64 KiB on Linux) at once and
 * Node queues the rest in the process, so a `process.exit` before a slow reader drained it cut the
 * output short while still exiting 0.
 */

/** Resolves once everything written to `stream` so far has left the process (or the stream failed). */
export function flushed(stream: NodeJS.WritableStream & { destroyed?: boolean }): Promise<void> {
  if (stream.destroyed === true || !stream.writable) return Promise.resolve()
  // writes complete in order, so an empty write's callback runs after all the earlier ones were delivered
  return new Promise((resolve) => stream.write('', () => resolve()))
}

/** Exit with `code` once stdout and stderr have delivered every byte written to them. */
export async function exitWhenFlushed(code: number): Promise<void> {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)])
  // libp2p and timers may keep the loop alive after a dial; the work is done and its output delivered.
  process.exit(code)
}
