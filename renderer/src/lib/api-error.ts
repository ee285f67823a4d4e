/** A failed API call as the renderer sees it, whichever shell carried it. */
export class ApiCallError extends Error {
  override name = 'ApiCallError'
  constructor(
    /** A ReasonCode or an API code (`bad-input`, `unauthorized`, `unreachable`, …). */
    readonly code: string,
    message: string
  ) {
    super(message)
  }
}

/** Normalises anything a bridge rejected with (Error, plain `{ code, message }` from the preload). */
export function toApiCallError(err: unknown): ApiCallError {
  if (err instanceof ApiCallError) return err
  const e = err as { code?: unknown; message?: unknown } | null
  if (e != null && typeof e.code === 'string') {
    return new ApiCallError(e.code, typeof e.message === 'string' ? e.message : e.code)
  }
  return new ApiCallError('internal-error', 'something went wrong')
}
