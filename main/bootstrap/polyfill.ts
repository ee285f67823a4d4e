/**
 * Promise.withResolvers for Node 20: libp2p 3 calls it on every connection (native from Node 22), and without
 * it every dial fails with a bare ECONNRESET. `taleus/bootstrap` loads this first, so an integrator on Node 20
 * needs nothing of their own; it only fills the gap and never replaces a native implementation.
 */
type Resolvers<T> = {
  promise: Promise<T>
  resolve: (value: T | PromiseLike<T>) => void
  reject: (reason?: unknown) => void
}

const P = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> }
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = function withResolvers<T>(): Resolvers<T> {
    let resolve!: Resolvers<T>['resolve']
    let reject!: Resolvers<T>['reject']
    const promise = new Promise<T>((res, rej) => {
      resolve = res
      reject = rej
    })
    return { promise, resolve, reject }
  }
}

export {}
