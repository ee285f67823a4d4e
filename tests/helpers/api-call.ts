/** A call to a node's local HTTP API with its bearer secret, as the browser console makes it. */

/** The status and parsed body of one answer. */
export interface ApiReply<T> {
  status: number
  json: T
}

/** Calls `path` on the API at `url`; `actor` sets the shell named in the audit trail (x-taleus-actor). */
export async function apiCall<T>(
  url: string,
  secret: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  actor?: string
): Promise<ApiReply<T>> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${secret}`,
      ...(actor === undefined ? {} : { 'x-taleus-actor': actor }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' })
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  return { status: res.status, json: (await res.json()) as T }
}
