/**
 * The four wire messages as valibot schemas. Every object is strict (unknown keys are refused) and every
 * string and array is bounded, so a frame that passes here is safe to hand to the hooks.
 */
import * as v from 'valibot'
import { BadMessageError } from './errors.ts'
import { MAX_FRAME_BYTES, REASON_CODES } from './types.ts'

/** Bounds of every field on the wire (characters for strings, items for arrays/records). */
export const LIMITS = {
  token: 256,
  peerId: 128,
  identityFields: 16,
  identityKey: 64,
  identityValue: 1024,
  cadreAddrs: 16,
  multiaddr: 512,
  tallyId: 128,
  timestamp: 64,
  dbNodes: 16,
  credentials: 4096,
  documentId: 64,
  /** Base64 characters (24 KiB of bytes): the rest of the largest frame still fits in MAX_FRAME_BYTES. */
  documentData: 32768,
  /** Characters of a 1.3.0 seed: standing terms with a 2000-character note, every character escaped. */
  documentSeed: 16384
} as const

const peerIdSchema = v.pipe(v.string(), v.minLength(1), v.maxLength(LIMITS.peerId), v.regex(/^[A-Za-z0-9]+$/))
const addrSchema = v.pipe(v.string(), v.minLength(1), v.maxLength(LIMITS.multiaddr))
const addrListSchema = v.pipe(v.array(addrSchema), v.maxLength(LIMITS.cadreAddrs))
const roleSchema = v.picklist(['stock', 'foil'])
const reasonSchema = v.picklist(REASON_CODES)

/** An identity bundle: at most 16 fields, keys like `email`, values up to 1 KiB. */
export const IdentityBundleSchema = v.pipe(
  // v.record alone accepts an array (its indexes pass as keys)
  v.unknown(),
  v.check((x) => x !== null && typeof x === 'object' && !Array.isArray(x), 'an identity bundle is an object'),
  v.record(
    v.pipe(v.string(), v.minLength(1), v.maxLength(LIMITS.identityKey), v.regex(/^[A-Za-z0-9_.-]+$/)),
    v.pipe(v.string(), v.maxLength(LIMITS.identityValue))
  ),
  v.maxEntries(LIMITS.identityFields)
)

/** The draft tally created by the provisioning party. */
export const DraftTallySchema = v.strictObject({
  tallyId: v.pipe(v.string(), v.minLength(1), v.maxLength(LIMITS.tallyId)),
  createdBy: roleSchema,
  initiatorPeerId: peerIdSchema,
  respondentPeerId: peerIdSchema,
  createdAt: v.pipe(v.string(), v.minLength(1), v.maxLength(LIMITS.timestamp))
})

/** A database's initial state of one tally: an id and base64 bytes (1.1.0) or a seed (1.3.0), not both. */
export const DbDocumentSchema = v.pipe(
  v.strictObject({
    id: v.pipe(v.string(), v.minLength(1), v.maxLength(LIMITS.documentId), v.regex(/^[A-Za-z0-9]+$/)),
    data: v.optional(
      v.pipe(
        v.string(),
        v.minLength(4),
        v.maxLength(LIMITS.documentData),
        v.regex(/^[A-Za-z0-9+/]+={0,2}$/),
        v.check((s) => s.length % 4 === 0, 'base64 with padding')
      )
    ),
    seed: v.optional(v.pipe(v.string(), v.minLength(2), v.maxLength(LIMITS.documentSeed)))
  }),
  v.check((d) => (d.data === undefined) !== (d.seed === undefined), 'either data or seed')
)

/** How to reach the shared database. */
export const DbConnectionInfoSchema = v.strictObject({
  nodes: v.pipe(v.array(addrSchema), v.maxLength(LIMITS.dbNodes)),
  credentials: v.pipe(v.string(), v.maxLength(LIMITS.credentials)),
  document: v.optional(DbDocumentSchema)
})

/** A provisioned database (what provisionDatabase returns). */
export const ProvisionResultSchema = v.strictObject({
  tally: DraftTallySchema,
  dbConnectionInfo: DbConnectionInfoSchema
})

/** Message 1, B → A: the contact that opens every bootstrap. B's cadre goes first. */
export const InboundContactSchema = v.strictObject({
  type: v.literal('InboundContact'),
  token: v.pipe(v.string(), v.minLength(1), v.maxLength(LIMITS.token)),
  partyId: peerIdSchema,
  identityBundle: IdentityBundleSchema,
  cadrePeerAddrs: addrListSchema
})

/** Message 2 (approved), A → B: A's identity and cadre; in stock also the provisioned database. */
export const ApprovedProvisioningResultSchema = v.strictObject({
  type: v.literal('ProvisioningResult'),
  approved: v.literal(true),
  role: roleSchema,
  partyId: peerIdSchema,
  cadrePeerAddrs: addrListSchema,
  provisionResult: v.optional(ProvisionResultSchema)
})

/** Message 2 (rejected), A → B: a reason and nothing of A's; `role` only when A knew it. */
export const RejectedProvisioningResultSchema = v.strictObject({
  type: v.literal('ProvisioningResult'),
  approved: v.literal(false),
  role: v.optional(roleSchema),
  reason: reasonSchema
})

/** Message 2, A → B. */
export const ProvisioningResultSchema = v.union([
  ApprovedProvisioningResultSchema,
  RejectedProvisioningResultSchema
])

/** Message 3 (foil only), B → A: the database B provisioned. */
export const DatabaseResultSchema = v.strictObject({
  type: v.literal('DatabaseResult'),
  tally: DraftTallySchema,
  dbConnectionInfo: DbConnectionInfoSchema
})

/** The verdict on the last message received: `ok`, or a refusal with its reason. */
export const AckSchema = v.union([
  v.strictObject({ type: v.literal('Ack'), ok: v.literal(true) }),
  v.strictObject({ type: v.literal('Ack'), ok: v.literal(false), reason: reasonSchema })
])

/** Message 1. */
export type InboundContact = v.InferOutput<typeof InboundContactSchema>
/** Message 2 (either form). */
export type ProvisioningResult = v.InferOutput<typeof ProvisioningResultSchema>
/** Message 2, approved. */
export type ApprovedProvisioningResult = v.InferOutput<typeof ApprovedProvisioningResultSchema>
/** Message 2, rejected. */
export type RejectedProvisioningResult = v.InferOutput<typeof RejectedProvisioningResultSchema>
/** Message 3 (foil). */
export type DatabaseResult = v.InferOutput<typeof DatabaseResultSchema>
/** The final verdict. */
export type Ack = v.InferOutput<typeof AckSchema>
/** Any wire message. */
export type Message = InboundContact | ProvisioningResult | DatabaseResult | Ack
/** The `type` of a wire message. */
export type MessageType = Message['type']
/** The message whose `type` is T. */
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>

const SCHEMAS = {
  InboundContact: InboundContactSchema,
  ProvisioningResult: ProvisioningResultSchema,
  DatabaseResult: DatabaseResultSchema,
  Ack: AckSchema
} as const

/** Every message type, in protocol order. */
export const MESSAGE_TYPES = Object.keys(SCHEMAS) as MessageType[]

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype'])

function rejectPrototypeKeys(key: string, value: unknown): unknown {
  // a `__proto__` own key survives JSON.parse and would poison whoever spreads the object later
  if (FORBIDDEN_KEYS.has(key)) throw new BadMessageError('forbidden key in frame')
  return value
}

/**
 * Text that could hold a forbidden key: one of the words, or an escape that could spell one. Other frames
 * (nearly all) are parsed without the reviver, which costs a call per value, about half the parse.
 */
const MAY_SPELL_FORBIDDEN = /__proto__|constructor|prototype|\\/

const utf8 = new TextDecoder('utf-8', { fatal: true })
const utf8Encoder = new TextEncoder()

/**
 * A frame body as a JSON object (UTF-8, at most `maxBytes`, no prototype keys); throws BadMessageError
 * otherwise. Shared by every protocol of the family (bootstrap, verdict).
 */
export function parseFrameObject(body: Uint8Array | string, maxBytes = MAX_FRAME_BYTES): object {
  const size = typeof body === 'string' ? utf8Encoder.encode(body).byteLength : body.byteLength
  if (size > maxBytes) throw new BadMessageError('frame too large')
  let parsed: unknown
  try {
    const text = typeof body === 'string' ? body : utf8.decode(body)
    parsed = MAY_SPELL_FORBIDDEN.test(text) ? JSON.parse(text, rejectPrototypeKeys) : JSON.parse(text)
  } catch (err) {
    if (err instanceof BadMessageError) throw err
    throw new BadMessageError('frame is not UTF-8 JSON')
  }
  if (parsed == null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new BadMessageError('frame is not a JSON object')
  }
  return parsed
}

/** Parses one frame body (UTF-8 JSON) into a validated message; throws BadMessageError otherwise. */
export function decodeMessage(body: Uint8Array | string): Message {
  const parsed = parseFrameObject(body)
  const type = (parsed as { type?: unknown }).type
  if (typeof type !== 'string' || !Object.hasOwn(SCHEMAS, type)) {
    throw new BadMessageError('unknown message type')
  }
  const result = v.safeParse(SCHEMAS[type as MessageType], parsed)
  if (!result.success) {
    const path = result.issues[0]?.path?.map((p) => String(p.key)).join('.') ?? ''
    throw new BadMessageError(`invalid ${type}${path === '' ? '' : ` at ${path}`}`)
  }
  return result.output as Message
}

/** Validates an outgoing message and encodes it as a frame body; throws BadMessageError if invalid. */
export function encodeMessage(message: Message): Uint8Array {
  const key = refusalKey(message)
  if (key !== undefined) {
    const known = encodedRefusals.get(key)
    // a copy: whoever writes it owns its bytes
    if (known !== undefined) return known.slice()
  }
  const schema = SCHEMAS[message.type]
  if (schema == null || !v.safeParse(schema, message).success) {
    throw new BadMessageError(`refusing to send an invalid ${String(message.type)}`)
  }
  const bytes = utf8Encoder.encode(JSON.stringify(message))
  if (bytes.byteLength > MAX_FRAME_BYTES) throw new BadMessageError('frame too large')
  if (key !== undefined) encodedRefusals.set(key, bytes.slice())
  return bytes
}

/** Refusals, validated and encoded once per kind: a flood of refused contacts repeats a few of them. */
const encodedRefusals = new Map<string, Uint8Array>()
const REFUSAL_KEYS: Record<string, ReadonlySet<string>> = {
  ProvisioningResult: new Set(['type', 'approved', 'reason', 'role']),
  Ack: new Set(['type', 'ok', 'reason'])
}

/** The cache key of a refusal made of nothing but its type, reason (and role), or undefined. */
function refusalKey(message: Message): string | undefined {
  const m = message as { type: string; approved?: unknown; ok?: unknown; reason?: unknown; role?: unknown }
  if (m.approved !== false && m.ok !== false) return undefined
  const allowed = REFUSAL_KEYS[m.type]
  if (allowed === undefined || typeof m.reason !== 'string') return undefined
  for (const k of Object.keys(m)) if (!allowed.has(k)) return undefined
  if (m.role !== undefined && typeof m.role !== 'string') return undefined
  return `${m.type}|${m.reason}|${m.role ?? ''}`
}

/** The dbConnectionInfo a message carries (stock ProvisioningResult, DatabaseResult), if any. */
function dbInfoOf(message: Message): { document?: unknown } | undefined {
  if (message.type === 'DatabaseResult') return message.dbConnectionInfo
  if (message.type === 'ProvisioningResult' && message.approved)
    return message.provisionResult?.dbConnectionInfo
  return undefined
}

/** True when `message` carries a `dbConnectionInfo.document` (a 1.1.0 field). */
export function carriesDocument(message: Message): boolean {
  return dbInfoOf(message)?.document !== undefined
}

/** True when `message` carries a `dbConnectionInfo.document.seed` (a 1.3.0 field). */
export function carriesSeed(message: Message): boolean {
  const document = dbInfoOf(message)?.document
  return (
    document !== null && typeof document === 'object' && 'seed' in document && document.seed !== undefined
  )
}

/** `message` without its `dbConnectionInfo.document`: what a 1.0.0 peer is sent. */
export function withoutDocument(message: Message): Message {
  if (!carriesDocument(message)) return message
  if (message.type === 'DatabaseResult') {
    const { document: _, ...dbConnectionInfo } = message.dbConnectionInfo
    return { ...message, dbConnectionInfo }
  }
  if (message.type !== 'ProvisioningResult' || !message.approved || message.provisionResult == null)
    return message
  const { document: _, ...dbConnectionInfo } = message.provisionResult.dbConnectionInfo
  return { ...message, provisionResult: { ...message.provisionResult, dbConnectionInfo } }
}

/** True when `value` is a well-formed ProvisionResult (used to check what a hook returned). */
export function isProvisionResult(value: unknown): value is v.InferOutput<typeof ProvisionResultSchema> {
  return v.safeParse(ProvisionResultSchema, value).success
}
