/** The service's event listeners on its store, node and manager, all removed again on stop. */

/** addEventListener for a CustomEvent, handed its detail. */
export type Listen = <T>(target: EventTarget, type: string, handler: (detail: T) => void) => void

/** Listeners added through `listen`, removed together by `detachAll`. */
export class Listeners {
  readonly #detach: Array<() => void> = []

  /** addEventListener for a CustomEvent, removed again on stop. */
  readonly listen: Listen = <T>(target: EventTarget, type: string, handler: (detail: T) => void): void => {
    const listener = (evt: Event): void => handler((evt as CustomEvent<T>).detail)
    target.addEventListener(type, listener)
    this.#detach.push(() => target.removeEventListener(type, listener))
  }

  /** Remove every listener added so far. */
  detachAll(): void {
    for (const off of this.#detach.splice(0)) off()
  }
}
