/**
 * When the libp2p adapter tells automerge-repo it is ready: once the channels it starts with have
 * exchanged hellos (or closed), or after a bounded wait, as automerge-repo's WebSocket client waits for
 * its server's answer. A repo asked for a document it does not hold asks the peers it knows once the
 * network is ready; a peer not greeted yet would not be asked, and the document would be unavailable
 * although that peer holds it.
 */

/** Something that is greeted (both hellos known) or closed, and says so through `wake`. */
export interface Greetable {
  announced: boolean
  closed: boolean
}

/** The adapter's ready flag and promise, and the waits on channels' hellos behind them. */
export class Readiness<C extends Greetable> {
  #ready = false
  #resolve: (() => void) | undefined
  readonly #promise = new Promise<void>((resolve) => {
    this.#resolve = resolve
  })
  readonly #waiters = new Map<C, Array<() => void>>()

  /** True once ready (it stays so). */
  get ready(): boolean {
    return this.#ready
  }

  /** Resolves when ready. */
  get promise(): Promise<void> {
    return this.#promise
  }

  /** Ready now. */
  markReady(): void {
    this.#ready = true
    this.#resolve?.()
  }

  /** Ready once every one of `waits` has settled, or after `maxMs` whichever comes first. */
  after(waits: Promise<unknown>, maxMs: number): void {
    const timer = setTimeout(() => this.markReady(), maxMs)
    timer.unref()
    void waits
      .catch(() => {})
      .finally(() => {
        clearTimeout(timer)
        this.markReady()
      })
  }

  /** Resolves once `ch` is greeted or closed (the owner calls `wake(ch)` at either). */
  async greeted(ch: C): Promise<void> {
    if (ch.announced || ch.closed) return
    await new Promise<void>((resolve) => {
      const waiters = this.#waiters.get(ch) ?? []
      waiters.push(resolve)
      this.#waiters.set(ch, waiters)
    })
  }

  /** `ch` was greeted or closed: its waits end. */
  wake(ch: C): void {
    const waiters = this.#waiters.get(ch)
    if (waiters === undefined) return
    this.#waiters.delete(ch)
    for (const w of waiters) w()
  }
}
