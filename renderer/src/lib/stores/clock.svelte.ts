/** One shared per-second clock for every elapsed time and countdown on screen. */
export class Clock {
  now = $state(Date.now())
  #timer: ReturnType<typeof setInterval> | undefined

  /** Starts ticking (idempotent). */
  start(): void {
    this.#timer ??= setInterval(() => {
      this.now = Date.now()
    }, 1000)
  }

  /** Stops ticking. */
  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}

/** The app's clock. */
export const clock = new Clock()
