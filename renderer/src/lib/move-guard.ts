/**
 * Cards that slide under a resting pointer (a card above them went away) must not take a click aimed at
 * the card that was there before: the second click of a double-click on one customer's Reject would
 * otherwise decide the next customer too.
 */

/** How long a card that moved ignores clicks from a pointer that did not travel to it, in ms. */
export const SETTLE_MS = 500
/** Pointer travel that counts as aiming anew: more than a double-click's jitter, in px of path. */
const AIM_PX = 10

interface Place {
  top: number
  left: number
  /** When the card came to this place (-Infinity: where it was when the list first showed). */
  since: number
  /** How far the pointer had travelled then (undefined: no pointer seen yet). */
  travel: number | undefined
}

/** Watches the cards of one list (its child elements) and says whether a click on a card was aimed at it. */
export class MoveGuard {
  #root: HTMLElement | undefined
  #places = new Map<Element, Place>()
  #pointer: { x: number; y: number } | undefined
  /** Path length the pointer covered since watching began: gone away and back to a card is aiming too. */
  #travel = 0

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Starts watching `root`'s cards; returns what stops it (fits `{@attach}`). */
  watch(root: HTMLElement): () => void {
    this.#root = root
    this.#places = new Map()
    this.#note(true)
    // any change of the page (a card gone, a notice above, a wrapped line) may move the cards
    const observer = new MutationObserver(() => this.#note(false))
    observer.observe(document.body, { childList: true, subtree: true, characterData: true, attributes: true })
    const onResize = (): void => this.#note(false)
    const onPointer = (e: PointerEvent): void => {
      const from = this.#pointer
      if (from != null) this.#travel += Math.hypot(e.clientX - from.x, e.clientY - from.y)
      this.#pointer = { x: e.clientX, y: e.clientY }
    }
    addEventListener('resize', onResize)
    addEventListener('pointermove', onPointer, { capture: true, passive: true })
    addEventListener('pointerdown', onPointer, { capture: true, passive: true })
    return () => {
      observer.disconnect()
      removeEventListener('resize', onResize)
      removeEventListener('pointermove', onPointer, { capture: true })
      removeEventListener('pointerdown', onPointer, { capture: true })
      if (this.#root === root) this.#root = undefined
    }
  }

  /**
   * True when a click on `card` may act: from the keyboard (focus chose the card), or once the card has
   * stood still for SETTLE_MS, or when the pointer travelled to it after it moved.
   */
  aimed(card: Element | null, event: MouseEvent): boolean {
    // Enter or Space on a focused button: the operator chose this card by focus, not by position
    if (event.detail === 0 || card == null) return true
    this.#note(false)
    const place = this.#places.get(card)
    if (place == null || this.now() - place.since >= SETTLE_MS) return true
    // no pointer seen here before the card moved: it was not resting on another card's button
    return place.travel == null || this.#travel - place.travel >= AIM_PX
  }

  /** Records where each card is; one that is new or elsewhere than last time starts settling. */
  #note(first: boolean): void {
    const root = this.#root
    if (root == null) return
    const next = new Map<Element, Place>()
    for (const card of root.children) {
      const rect = card.getBoundingClientRect()
      // page coordinates: scrolling moves every card, and the operator sees it happen
      const top = rect.top + scrollY
      const left = rect.left + scrollX
      const old = this.#places.get(card)
      if (old != null && old.top === top && old.left === left) next.set(card, old)
      else {
        const since = first ? -Infinity : this.now()
        next.set(card, { top, left, since, travel: this.#pointer == null ? undefined : this.#travel })
      }
    }
    this.#places = next
  }
}
