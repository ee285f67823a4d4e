/**
 * Automerge patches applied to the document as plain JSON, copy-on-write. Vetting a counterparty's changes
 * needs the document as each change's author saw it; materialising it per change (Automerge `view` and
 * JSON) cost 64 ms a change for a document of a thousand proposals, so 1000 valid changes in one message
 * held the event loop for minutes. A change's patches (`diff` between two heads: microseconds) applied to
 * the state before it give the state after it, and untouched parts stay shared, so comparing them is cheap.
 */
import { isImmutableString } from '@automerge/automerge'
import type { Patch } from '@automerge/automerge'

type Container = Record<string, unknown> | unknown[]

/** `root` with `patches` applied; the parts they do not touch are the same objects as in `root`. */
export function applyPlainPatches(root: unknown, patches: readonly Patch[]): unknown {
  const copied = new WeakSet<object>()
  const box: { root: unknown } = { root }
  const own = (c: Container): Container => {
    if (copied.has(c)) return c
    const copy = Array.isArray(c) ? c.slice() : { ...c }
    copied.add(copy)
    return copy
  }
  for (const patch of patches) {
    if (patch.action === 'mark' || patch.action === 'unmark' || patch.action === 'conflict') continue
    if (patch.path.length === 0) throw new Error('a patch without a path')
    // walk to the container of the last path element, copying each container on the way
    let parent: Container = box as unknown as Container
    let key: string | number = 'root'
    for (const step of patch.path.slice(0, -1)) {
      const child = (parent as Record<string | number, unknown>)[key]
      if (child === null || typeof child !== 'object') throw new Error('a patch into a value')
      const mine = own(child as Container)
      ;(parent as Record<string | number, unknown>)[key] = mine
      parent = mine
      key = step
    }
    const last = patch.path[patch.path.length - 1]!
    const target = (parent as Record<string | number, unknown>)[key]
    if (typeof target === 'string') {
      ;(parent as Record<string | number, unknown>)[key] = textEdit(target, patch, last)
      continue
    }
    if (target === null || typeof target !== 'object') throw new Error('a patch into a value')
    const c = own(target as Container)
    ;(parent as Record<string | number, unknown>)[key] = c
    edit(c, patch, last)
  }
  return box.root
}

function edit(c: Container, patch: Patch, last: string | number): void {
  if (Array.isArray(c)) {
    if (typeof last !== 'number') throw new Error('a list patch without an index')
    switch (patch.action) {
      case 'put':
        c[last] = plainValue(patch.value)
        return
      case 'insert':
        c.splice(last, 0, ...patch.values.map(plainValue))
        return
      case 'del':
        c.splice(last, patch.length ?? 1)
        return
      case 'inc':
        c[last] = Number(c[last]) + patch.value
        return
      default:
        throw new Error(`a ${patch.action} patch on a list`)
    }
  }
  const k = String(last)
  switch (patch.action) {
    case 'put':
      c[k] = plainValue(patch.value)
      return
    case 'del':
      delete c[k]
      return
    case 'inc':
      c[k] = Number(c[k]) + patch.value
      return
    default:
      throw new Error(`a ${patch.action} patch on a map`)
  }
}

function textEdit(text: string, patch: Patch, last: string | number): string {
  if (typeof last !== 'number') throw new Error('a text patch without an index')
  if (patch.action === 'splice') return text.slice(0, last) + patch.value + text.slice(last)
  if (patch.action === 'del') return text.slice(0, last) + text.slice(last + (patch.length ?? 1))
  throw new Error(`a ${patch.action} patch on text`)
}

/** A patch value as JSON holds it: new objects empty (their fields come as later patches), scalars plain. */
function plainValue(v: unknown): unknown {
  if (isImmutableString(v)) return v.val
  if (Array.isArray(v)) return []
  if (v instanceof Uint8Array || v instanceof Date) return JSON.parse(JSON.stringify(v)) as unknown
  if (v !== null && typeof v === 'object') {
    // a Counter holds its value; an object or text arrives empty
    const value = (v as { value?: unknown }).value
    return typeof value === 'number' ? value : {}
  }
  return v
}

/** The value at `path` in a plain JSON state (undefined when there is none). */
export function valueAt(state: unknown, path: ReadonlyArray<string | number>): unknown {
  let v = state
  for (const step of path) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as Record<string | number, unknown>)[step]
  }
  return v
}
