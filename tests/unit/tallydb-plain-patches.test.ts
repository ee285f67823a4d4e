/**
 * The plain-JSON shadow the vetting judges with must be the document itself: random edits (maps, lists,
 * text typed and deleted, scalars, nested objects, concurrent branches merged), each applied as patches
 * to the JSON before it, give exactly the JSON after it, and leave untouched parts shared.
 */
import { describe, expect, it } from 'vitest'
import { ImmutableString, change, clone, diff, from, getHeads, merge, splice } from '@automerge/automerge'
import type { Doc } from '@automerge/automerge'
import { applyPlainPatches } from '../../main/tallydb/plain-patches.ts'

type Any = Record<string, unknown> & {
  list: unknown[]
  text: string
  maps: Record<string, Record<string, unknown>>
}

const plain = (d: unknown): unknown => JSON.parse(JSON.stringify(d)) as unknown

/** A small deterministic generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

function randomEdit(d: Any, r: () => number): void {
  const n = Math.floor(r() * 9)
  const i = (len: number): number => Math.floor(r() * (len + 1))
  switch (n) {
    case 0:
      d.list.splice(i(d.list.length), 0, Math.floor(r() * 100), 'x')
      break
    case 1:
      if (d.list.length > 0)
        d.list.splice(Math.min(i(d.list.length), d.list.length - 1), 1 + Math.floor(r() * 2))
      break
    case 2:
      // typed into the text, as a text editor would (a splice, not a new string)
      splice(d, ['text'], Math.min(2, d.text.length), 0, String(r()).slice(2, 6))
      break
    case 3:
      splice(d, ['text'], Math.max(0, d.text.length - 3), Math.min(3, d.text.length))
      break
    case 4:
      d.maps[`m${Math.floor(r() * 5)}`] = { status: new ImmutableString('open'), n: r(), note: 'typed' }
      break
    case 5: {
      const keys = Object.keys(d.maps)
      const k = keys[Math.floor(r() * keys.length)]
      if (k !== undefined) d.maps[k]!.status = new ImmutableString(r() < 0.5 ? 'accepted' : 'withdrawn')
      break
    }
    case 6: {
      const keys = Object.keys(d.maps)
      const k = keys[Math.floor(r() * keys.length)]
      if (k !== undefined) delete d.maps[k]
      break
    }
    case 7:
      d.list.push({ at: new ImmutableString(String(r())), by: 'someone' })
      break
    default:
      d[`s${Math.floor(r() * 3)}`] = r() < 0.5 ? null : Math.floor(r() * 10)
  }
}

describe('applyPlainPatches', () => {
  it('each change’s patches on the JSON before it give the JSON after it (300 random edits, 3 seeds)', () => {
    for (const seed of [1, 2, 3]) {
      const r = rng(seed)
      let doc: Doc<Any> = from<Any>({ list: [], text: 'hello world', maps: {} })
      let state = plain(doc)
      for (let step = 0; step < 100; step++) {
        const before = getHeads(doc)
        doc = change(doc, (d) => {
          for (let k = 0; k < 1 + Math.floor(r() * 3); k++) randomEdit(d, r)
        })
        state = applyPlainPatches(state, diff(doc, before, getHeads(doc)))
        expect(state, `seed ${seed} step ${step}`).toEqual(plain(doc))
      }
    }
  })

  it('across concurrent branches, and backwards to an older state', () => {
    const r = rng(7)
    const base = from<Any>({ list: [1, 2, 3], text: 'abcdef', maps: { a: { status: 'open' } } })
    let left = clone(base)
    let right = clone(base)
    for (let k = 0; k < 10; k++) {
      left = change(left, (d) => randomEdit(d, r))
      right = change(right, (d) => randomEdit(d, r))
    }
    const merged = merge(clone(left), right)
    const fromLeft = applyPlainPatches(plain(left), diff(merged, getHeads(left), getHeads(merged)))
    expect(fromLeft).toEqual(plain(merged))
    const back = applyPlainPatches(plain(merged), diff(merged, getHeads(merged), getHeads(right)))
    expect(back).toEqual(plain(right))
  })

  it('leaves what a change does not touch as the same objects', () => {
    let doc = from<Any>({ list: [{ a: 1 }], text: 't', maps: { a: { n: 1 }, b: { n: 2 } } })
    const state = plain(doc) as Any
    const before = getHeads(doc)
    doc = change(doc, (d) => {
      d.maps.a!.n = 5
    })
    const next = applyPlainPatches(state, diff(doc, before, getHeads(doc))) as Any
    expect(next.maps.a).toEqual({ n: 5 })
    expect(next.maps.b).toBe(state.maps.b)
    expect(next.list).toBe(state.list)
    expect(state.maps.a).toEqual({ n: 1 }) // the state before is not changed
  })
})
