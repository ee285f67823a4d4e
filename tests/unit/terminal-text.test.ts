/**
 * printable(): other people's text on the operator's terminal shows every character that could move the
 * cursor or hide text as a visible escape, and leaves ordinary text (accents, CJK, emoji) as it is.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { printable, printableValue, quoted } from '../../main/cli/terminal-text.ts'

/** What a terminal acts on or draws as nothing: C0, DEL, C1, bidi controls, zero-width characters, BOM. */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/u

/** Any code point (lone surrogates too), mostly from the ranges where controls and invisible ones live. */
const CHAR = fc
  .oneof(
    fc.integer({ min: 0, max: 0x2ff }),
    fc.integer({ min: 0x2000, max: 0x206f }),
    fc.integer({ min: 0xd800, max: 0xdfff }),
    fc.integer({ min: 0xfe00, max: 0xfeff }),
    fc.integer({ min: 0x1f300, max: 0x1faff }),
    fc.integer({ min: 0xe0000, max: 0xe01ef }),
    fc.integer({ min: 0, max: 0x10ffff })
  )
  .map((code) => String.fromCodePoint(code))

describe('printable', () => {
  it('escapes the controls of a screen-clearing, line-erasing value', () => {
    expect(printable('x\r\x1b[2K\x1b[1Astock limit 5')).toBe('x\\r\\x1b[2K\\x1b[1Astock limit 5')
    expect(printable('\x1b]0;owned\x07\x1b[2J\x1bc')).toBe('\\x1b]0;owned\\x07\\x1b[2J\\x1bc')
    expect(printable('a\nb\tc\bd\x00e\x7f')).toBe('a\\nb\\tc\\x08d\\x00e\\x7f')
  })

  it('escapes C1 controls (U+0080–U+009F: CSI, OSC, NEL of 8-bit terminals)', () => {
    expect(printable('\u009b2J\u009d0;x\u0085\u0080')).toBe('\\x9b2J\\x9d0;x\\x85\\x80')
  })

  it('escapes bidi overrides and isolates, which reorder what follows them', () => {
    expect(printable('ann\u202egro.elpmaxe@')).toBe('ann\\u202egro.elpmaxe@')
    for (const c of [
      '\u202a',
      '\u202b',
      '\u202c',
      '\u202d',
      '\u2066',
      '\u2067',
      '\u2068',
      '\u2069',
      '\u061c'
    ])
      expect(printable(`a${c}b`)).toBe(`a\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}b`)
  })

  it('escapes zero-width characters and the BOM, which hide letters', () => {
    expect(printable('A\u200bn\u200cn\u200d \u200e\u200f\ufeff\u2060')).toBe(
      'A\\u200bn\\u200cn\\u200d \\u200e\\u200f\\ufeff\\u2060'
    )
  })

  it('escapes line and paragraph separators, lone surrogates and invisible tag characters', () => {
    expect(printable('a\u2028b\u2029c')).toBe('a\\u2028b\\u2029c')
    expect(printable('\ud800x\udc00')).toBe('\\ud800x\\udc00')
    expect(printable('hi\u{e0041}\u{e0042}')).toBe('hi\\u{e0041}\\u{e0042}')
  })

  it('keeps accents, CJK, other scripts and emoji as they are', () => {
    for (const text of [
      'Zoë Ångström-Nuñez',
      '東京都 山田太郎',
      'Ελένη Παπαδοπούλου',
      'محمد',
      'שלום',
      'नमस्ते',
      '😀 👍🏽 ❤️ 1️⃣',
      '👩‍💻 ❤️‍🔥 🏳️‍🌈 👨‍👩‍👧',
      '🏴\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}',
      '葛\u{e0100}城',
      'C:\\temp 100% $5 <b>'
    ])
      expect(printable(text)).toBe(text)
  })

  it('keeps one variation selector on a character, escapes a run of them (data hidden in them)', () => {
    expect(printable('a\ufe0f\ufe00\ufe01')).toBe('a\ufe0f\\ufe00\\ufe01')
    expect(printable('\ufe0f')).toBe('\\ufe0f')
  })

  it('never leaves a character a terminal acts on or hides, and is idempotent', () => {
    fc.assert(
      fc.property(fc.string({ unit: CHAR, maxLength: 40 }), (text) => {
        const shown = printable(text)
        return !UNSAFE.test(shown) && printable(shown) === shown
      }),
      { numRuns: 2000 }
    )
  })

  it('takes a non-string that a peer put where text was expected', () => {
    expect(printable(5 as unknown as string)).toBe('5')
  })
})

describe('printableValue and quoted', () => {
  it('leaves a plain value bare, quotes one that could fake the punctuation around it', () => {
    expect(printableValue('Ann Lee')).toBe('Ann Lee')
    expect(printableValue('ann@example.org')).toBe('ann@example.org')
    expect(printableValue('EUR')).toBe('EUR')
    expect(printableValue('Ann, email=boss@example.org')).toBe('"Ann, email=boss@example.org"')
    expect(printableValue('a  b')).toBe('"a  b"')
    expect(printableValue(' padded')).toBe('" padded"')
    expect(printableValue('')).toBe('""')
    expect(printableValue('looks\\x1blike')).toBe('"looks\\\\x1blike"')
    expect(printableValue('x\u202ey')).toBe('x\\u202ey')
  })

  it('quoted() escapes its own quotes, so a note cannot close them and add terms', () => {
    expect(quoted('ok", stock limit 5, note "x')).toBe('"ok\\", stock limit 5, note \\"x"')
    expect(quoted('a\r\x1b[2Kb\u009b')).toBe('"a\\r\\u001b[2Kb\\x9b"')
  })
})
