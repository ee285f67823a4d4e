/**
 * Text from other people (a customer's identity, a counterparty's terms, names from peers, anything the
 * network or the store hands back) on the operator's terminal. Raw, it can clear the screen, move the
 * cursor back over what was printed (CR, erase-line), reorder what follows (bidi overrides) or hide
 * letters (zero-width characters): the operator would decide on something other than what was shown.
 */

/** Controls (C0, DEL, C1), format characters (bidi, zero-width, BOM), line separators, lone surrogates, and what Unicode says to draw as nothing. */
const INVISIBLE = String.raw`\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}`
const VARIATION_SELECTOR = String.raw`\u{FE00}-\u{FE0F}\u{E0100}-\u{E01EF}`

/** Each alternative's group: the first three are parts of one visible glyph and stay; the last is escaped. */
const HIDDEN = new RegExp(
  [
    // a zero-width joiner inside an emoji (👩‍💻, ❤️‍🔥)
    String.raw`(?<=\p{Extended_Pictographic}(?:\u{FE0F}|\p{Emoji_Modifier})?)(\u{200D})(?=\p{Extended_Pictographic})`,
    // a subdivision flag: black flag, tag letters, cancel tag
    String.raw`(\u{1F3F4}[\u{E0030}-\u{E0039}\u{E0061}-\u{E007A}]{1,12}\u{E007F})`,
    // one variation selector on a visible character (❤️, an ideograph's variant); a run of them hides data
    String.raw`(?<=[^${INVISIBLE}])([${VARIATION_SELECTOR}])`,
    `([${INVISIBLE}])`
  ].join('|'),
  'gu'
)

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

function escape(char: string): string {
  const named = NAMED[char]
  if (named !== undefined) return named
  const code = char.codePointAt(0) ?? 0
  const hex = code.toString(16)
  if (code <= 0xff) return `\\x${hex.padStart(2, '0')}`
  return code <= 0xffff ? `\\u${hex.padStart(4, '0')}` : `\\u{${hex}}`
}

/** `text` with every character that could move the cursor or hide text shown as a visible escape (`\x1b`, `\r`, `\u202e`). */
export function printable(text: string): string {
  // String(): a value typed as text may be anything in a peer's document
  return String(text).replace(HIDDEN, (match: string, ...groups: unknown[]) => {
    const hidden = groups[3]
    return typeof hidden === 'string' ? escape(hidden) : match
  })
}

/** Text that could pass for the punctuation around it (`, `, `=`, quotes, column gaps) or for an escape. */
const AMBIGUOUS = /^$|^\s|\s$|\s\s|[,="\\]/u

/** A value inside a line of ours (`unit EUR`, `name=Ann Lee`): printable, in JSON quotes when it could fake that line's punctuation. */
export function printableValue(text: string): string {
  const value = String(text)
  return printable(AMBIGUOUS.test(value) ? JSON.stringify(value) : value)
}

/** A value always shown in quotes (`note "…"`): its own quotes and backslashes escaped, then printable. */
export function quoted(text: string): string {
  return printable(JSON.stringify(String(text)))
}
