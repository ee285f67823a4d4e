/**
 * The verdict protocol's three messages (`/taleus/verdict/1.0.0`): a party asks the other for its verdict
 * on one tally; the answer is the verdict, or one refusal that is the same bytes whatever the reason.
 */
import * as v from 'valibot'
import { BadMessageError } from './errors.ts'
import { LIMITS, parseFrameObject } from './messages.ts'

/** Largest verdict frame body, in bytes (a query holds one tally id). */
export const MAX_VERDICT_FRAME_BYTES = 1024

const tallyIdSchema = v.pipe(v.string(), v.minLength(1), v.maxLength(LIMITS.tallyId))

/** Asker → answerer: which tally. The asker is the authenticated remote peer of the connection. */
export const VerdictQuerySchema = v.strictObject({ type: v.literal('VerdictQuery'), tallyId: tallyIdSchema })

/** Answerer → asker: its own status of the tally; `unsettled` while it does not know yet (ask again). */
export const VerdictSchema = v.strictObject({
  type: v.literal('Verdict'),
  tallyId: tallyIdSchema,
  status: v.picklist(['confirmed', 'abandoned', 'unsettled'])
})

/** Answerer → asker: no such tally between us (unknown id, or the asker is not its counterparty). */
export const VerdictRefusedSchema = v.strictObject({ type: v.literal('VerdictRefused') })

/** The question. */
export type VerdictQuery = v.InferOutput<typeof VerdictQuerySchema>
/** The answer with a status. */
export type Verdict = v.InferOutput<typeof VerdictSchema>
/** The one refusal. */
export type VerdictRefused = v.InferOutput<typeof VerdictRefusedSchema>
/** A status in a Verdict. */
export type VerdictStatus = Verdict['status']
/** Any verdict-protocol message. */
export type VerdictMessage = VerdictQuery | Verdict | VerdictRefused

const SCHEMAS = {
  VerdictQuery: VerdictQuerySchema,
  Verdict: VerdictSchema,
  VerdictRefused: VerdictRefusedSchema
} as const

const encoder = new TextEncoder()

/** Parses one verdict frame body; throws BadMessageError unless it is a valid message of the family. */
export function decodeVerdictMessage(body: Uint8Array): VerdictMessage {
  const parsed = parseFrameObject(body, MAX_VERDICT_FRAME_BYTES)
  const type = (parsed as { type?: unknown }).type
  if (typeof type !== 'string' || !Object.hasOwn(SCHEMAS, type))
    throw new BadMessageError('unknown message type')
  const result = v.safeParse(SCHEMAS[type as keyof typeof SCHEMAS], parsed)
  if (!result.success) throw new BadMessageError(`invalid ${type}`)
  return result.output as VerdictMessage
}

/** Validates and encodes one verdict message; throws BadMessageError if invalid. */
export function encodeVerdictMessage(message: VerdictMessage): Uint8Array {
  const schema = SCHEMAS[message.type]
  if (schema == null || !v.safeParse(schema, message).success)
    throw new BadMessageError(`refusing to send an invalid ${String(message.type)}`)
  return encoder.encode(JSON.stringify(message))
}
