/**
 * Outgoing messages of a document held while a local change of it is written to disk. A change the
 * counterparty received before our disk held it would come back after a crash as a change we do not hold,
 * which the vetting then takes for the counterparty's own (change-vetting.ts) and refuses.
 */
export class OutboundHold<M> {
  readonly #held = new Map<string, { count: number; queue: M[] }>()
  readonly #send: (message: M) => void

  constructor(send: (message: M) => void) {
    this.#send = send
  }

  /** Hold `documentId`'s messages until the returned release is called (holds nest). */
  hold(documentId: string): () => void {
    const held = this.#held.get(documentId) ?? { count: 0, queue: [] }
    held.count++
    this.#held.set(documentId, held)
    let released = false
    return () => {
      if (released) return
      released = true
      if (--held.count > 0) return
      this.#held.delete(documentId)
      for (const m of held.queue) this.#send(m)
    }
  }

  /** True when `message` is held (it is sent on release). */
  keep(documentId: string | undefined, message: M): boolean {
    const held = documentId === undefined ? undefined : this.#held.get(documentId)
    if (held === undefined) return false
    held.queue.push(message)
    return true
  }
}
