/** A refused or failed API call, as both the HTTP server and the IPC handler report it. */
export class ApiError extends Error {
  override name = 'ApiError'
  constructor(
    /** A ReasonCode or an API code such as `bad-input`, `unknown-command`, `not-found`. */
    readonly code: string,
    /** HTTP status the HTTP server answers with. */
    readonly status: number,
    message: string,
    options?: ErrorOptions
  ) {
    super(message, options)
  }
}

/** True for an ApiError, also one that crossed a realm or was re-created from a JSON body. */
export function isApiError(err: unknown): err is ApiError {
  return (
    err instanceof ApiError ||
    (err instanceof Error && err.name === 'ApiError' && typeof (err as ApiError).code === 'string')
  )
}
