/** The paging options of the CLI's lists (tokens, tallies, sessions): newest first, a page at a time. */
import type { Command } from 'commander'
import type { PageQuery } from '../views/console-queries.ts'
import { UsageError } from './cli-error.ts'
import { parseEpochMs, parseLimit, wrap } from './parse-args.ts'

/** What a paged list's options hold once parsed. */
export interface PageOptions {
  limit?: number
  before?: number
  beforeId?: string
}

/** Adds --limit, --before and --before-id to `cmd`; `rows` names them, `time` and `id` their cursor fields. */
export function withPageOptions(cmd: Command, rows: string, time: string, id: string): Command {
  return cmd
    .option('--limit <n>', 'at most this many (1 to 5000, default 500)', wrap(parseLimit))
    .option(
      '--before <ms>',
      `only ${rows} before this epoch ms: the last row's ${time} (--json) for the next page`,
      wrap(parseEpochMs)
    )
    .option('--before-id <id>', `with --before: the last row's ${id}, so a row of the same ms is not skipped`)
}

/** The PageQuery of parsed options; --before-id alone is a usage error. */
export function pageFrom(opts: PageOptions): PageQuery {
  if (opts.beforeId !== undefined && opts.before === undefined)
    throw new UsageError("--before-id needs --before (the same row's time)")
  const page: PageQuery = {}
  if (opts.limit !== undefined) page.limit = opts.limit
  if (opts.before !== undefined) page.before = opts.before
  if (opts.beforeId !== undefined) page.beforeId = opts.beforeId
  return page
}
