/** A CLI failure: printed as one `taleus: …` line on stderr, then exit with `exitCode`. */
export class CliError extends Error {
  override name = 'CliError'
  constructor(
    message: string,
    readonly exitCode = 1
  ) {
    super(message)
  }
}

/** Bad arguments: exit code 2, like commander's own usage errors. */
export class UsageError extends CliError {
  override name = 'UsageError'
  constructor(message: string) {
    super(message, 2)
  }
}
