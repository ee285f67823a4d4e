/**
 * Keyboard focus in a list whose items go away (a decided customer's card): it moves to the item that took
 * the gone one's place, else the one before it, else a fallback such as the screen's heading, instead of
 * falling to the top of the page.
 */

/** Follows focus inside one list (its child elements are the items) and puts it back after removals. */
export class FocusKeeper {
  #root: HTMLElement | undefined
  /** The place of the item that holds focus, or held it when it was removed. */
  #index: number | undefined

  /** Starts following focus in `root`; returns what stops it (fits `{@attach}`). */
  watch(root: HTMLElement): () => void {
    this.#root = root
    const onIn = (e: FocusEvent): void => {
      const item = [...root.children].findIndex((c) => c.contains(e.target as Node))
      if (item >= 0) this.#index = item
    }
    const onOut = (e: FocusEvent): void => {
      const from = e.target as Node
      const to = e.relatedTarget as Node | null
      if (to != null) {
        if (!root.contains(to)) this.#index = undefined
        return
      }
      // focus sent nowhere: the operator clicked aside (the item is still there) or the item went away
      queueMicrotask(() => {
        if (from.isConnected && !root.contains(document.activeElement)) this.#index = undefined
      })
    }
    root.addEventListener('focusin', onIn)
    root.addEventListener('focusout', onOut)
    return () => {
      root.removeEventListener('focusin', onIn)
      root.removeEventListener('focusout', onOut)
      // the index stays: the list may have gone with its last item, and focus then goes to the fallback
      if (this.#root === root) this.#root = undefined
    }
  }

  /** Call after the list changed: focus lost with a removed item goes to the item now in its place. */
  restore(fallback: HTMLElement | undefined): void {
    const index = this.#index
    const active = document.activeElement
    if (index == null || (active != null && active !== document.body)) return
    const items = this.#root?.isConnected === true ? this.#root.children : undefined
    const next = items == null ? undefined : (items[Math.min(index, items.length - 1)] as HTMLElement)
    this.#index = undefined
    ;(next ?? fallback)?.focus()
  }
}
