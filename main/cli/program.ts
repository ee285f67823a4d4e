/** The `taleus` command line (commander). */
import { Command, Option } from 'commander'
import type { CreateTokenInput, Decision } from '../views/console-views.ts'
import type { TokenQuery } from '../views/console-queries.ts'
import { connectApi } from './api-client.ts'
import { CliError } from './cli-error.ts'
import { reportError } from './report-error.ts'
import { pageFrom, withPageOptions, type PageOptions } from './page-options.ts'
import { describeDial, dial, readDialLink } from './dial.ts'
import { exitWhenFlushed } from './exit-flushed.ts'
import { approvalsTable, sessionsTable, talliesTable, tokensTable } from './format.ts'
import { packageVersion } from './package-version.ts'
import { print } from './print.ts'
import {
  parseDuration,
  parseFieldList,
  parseIdentity,
  parseLinkSource,
  parseListenAddr,
  parseMaxSessions,
  parseTallyBurst,
  parseStoreUrl,
  parsePort,
  parseUses,
  wrap
} from './parse-args.ts'
import { termsFrom, withTermsOptions } from './terms-options.ts'
import type { TermsOptions } from './terms-options.ts'
import type { ServeOptions } from './serve.ts'
import { registerTallyCommand } from './tally-cmd.ts'

/** A repeatable `--listen`, each value checked as it comes. */
const collectListen = (value: string, previous: string[] = []): string[] => [
  ...previous,
  wrap(parseListenAddr)(value)
]

/** Build the program; actions write to stdout/stderr and throw CliError on failure. */
export function buildProgram(): Command {
  const program = new Command('taleus')
    .description('Taleus merchant node: bootstrap tallies over libp2p')
    .version(packageVersion(), '--version', 'print the version')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: () => {} })

  program
    .command('serve')
    .description('run the merchant node with its local API and browser console')
    .requiredOption('--data-dir <dir>', 'data folder (store, peer key, API address)')
    .option(
      '--listen <multiaddr>',
      'listen address, e.g. /ip4/0.0.0.0/tcp/4001 (repeatable; default: every interface, on the port of the last run)',
      collectListen
    )
    .option('--no-mdns', 'do not discover peers on the local network')
    .option('--api-port <port>', 'local API port (default: any free port)', parsePortOption)
    .option(
      '--max-sessions <n>',
      'concurrent sessions before new customers get "busy" (default 100)',
      wrap(parseMaxSessions)
    )
    .option(
      '--token-tally-burst <n>',
      'tallies one public (unlimited) token may make at once before it is held to one a second (default 2000)',
      wrap(parseTallyBurst)
    )
    .option(
      '--store <url>',
      "postgres://user@host/db: a store shared by the merchant's nodes (default: the data folder)",
      wrap(parseStoreUrl)
    )
    .action(async (opts: ServeOptions) => {
      const { serve } = await import('./serve.ts')
      await serve({
        dataDir: opts.dataDir,
        mdns: opts.mdns,
        ...(opts.listen ? { listen: opts.listen } : {}),
        ...(opts.apiPort === undefined ? {} : { apiPort: opts.apiPort }),
        ...(opts.maxSessions === undefined ? {} : { maxSessions: opts.maxSessions }),
        ...(opts.tokenTallyBurst === undefined ? {} : { tokenTallyBurst: opts.tokenTallyBurst }),
        ...(opts.store === undefined ? {} : { store: opts.store })
      })
    })

  const token = program.command('token').description('create, list, show, archive and revoke tokens')
  const createToken = token
    .command('create')
    .description('create a token and print its link')
    .requiredOption('--data-dir <dir>', 'data folder of the running node')
    .addOption(
      new Option('--role <role>', "the merchant's role").choices(['stock', 'foil']).makeOptionMandatory()
    )
    .option('--uses <uses>', '1, a number, or unlimited', wrap(parseUses))
    .option('--expires <duration>', 'lifetime, e.g. 15m, 2h, 1d', wrap(parseDuration))
    .option(
      '--require <fields>',
      'identity fields the customer must give, e.g. email,name',
      wrap(parseFieldList)
    )
    .addOption(new Option('--approval <policy>', 'who approves identities').choices(['auto', 'operator']))
    .option('--label <text>', 'a name for the token')
  // standing terms: every tally bootstrapped from the token starts with them
  withTermsOptions(createToken)
    .option('--json', 'print JSON')
    .action(
      async (
        opts: TermsOptions & {
          dataDir: string
          role: 'stock' | 'foil'
          uses?: number | 'unlimited'
          expires?: number
          require?: string[]
          approval?: 'auto' | 'operator'
          label?: string
          json?: boolean
        }
      ) => {
        const input: CreateTokenInput = { role: opts.role }
        if (opts.uses !== undefined) input.uses = opts.uses
        if (opts.expires !== undefined) input.expiresInMs = opts.expires
        if (opts.require !== undefined) input.identityRequirements = opts.require
        if (opts.approval !== undefined) input.approval = opts.approval
        if (opts.label !== undefined) input.label = opts.label
        const terms = termsFrom(opts)
        if (Object.keys(terms).length > 0) input.terms = terms
        const call = await connectApi(opts.dataDir)
        const created = await call('createToken', input)
        print(opts.json, created, () => created.link)
      }
    )
  withPageOptions(
    token
      .command('list')
      .description('list tokens, newest first (500 unless --limit; archived ones only with --archived)')
      .requiredOption('--data-dir <dir>', 'data folder of the running node')
      .option('--archived', 'also list archived tokens'),
    'tokens created',
    'createdAt',
    'tokenId'
  )
    .option('--json', 'print JSON')
    .action(async (opts: PageOptions & { dataDir: string; json?: boolean; archived?: boolean }) => {
      const query: TokenQuery = pageFrom(opts)
      if (opts.archived === true) query.archived = true
      const tokens = await (await connectApi(opts.dataDir))('listTokens', query)
      print(opts.json, tokens, () => tokensTable(tokens))
    })
  token
    .command('link')
    .description(
      "print a token's link again (its QR text): it holds the token, so share it only with customers"
    )
    .argument('<tokenId>', 'id of the token')
    .requiredOption('--data-dir <dir>', 'data folder of the running node')
    .option('--json', 'print JSON')
    .action(async (tokenId: string, opts: { dataDir: string; json?: boolean }) => {
      const reply = await (await connectApi(opts.dataDir))('getTokenLink', { tokenId })
      print(opts.json, reply, () => reply.link)
    })
  token
    .command('archive')
    .description('hide a revoked, used-up or expired token from the token list (it stays on the node)')
    .argument('<tokenId>', 'id of the token')
    .requiredOption('--data-dir <dir>', 'data folder of the running node')
    .option('--json', 'print JSON')
    .action(async (tokenId: string, opts: { dataDir: string; json?: boolean }) => {
      const view = await (await connectApi(opts.dataDir))('archiveToken', { tokenId })
      print(opts.json, view, () => `archived ${view.tokenId}`)
    })
  token
    .command('revoke')
    .description('revoke a token')
    .argument('<tokenId>', 'id of the token')
    .requiredOption('--data-dir <dir>', 'data folder of the running node')
    .option('--json', 'print JSON')
    .action(async (tokenId: string, opts: { dataDir: string; json?: boolean }) => {
      const view = await (await connectApi(opts.dataDir))('revokeToken', { tokenId })
      print(opts.json, view, () => `revoked ${view.tokenId}`)
    })

  withPageOptions(
    program
      .command('sessions')
      .description('list live and recent sessions, newest first (500 unless --limit)')
      .requiredOption('--data-dir <dir>', 'data folder of the running node'),
    'sessions started',
    'startedAt',
    'sessionId'
  )
    .option('--json', 'print JSON')
    .action(async (opts: PageOptions & { dataDir: string; json?: boolean }) => {
      const sessions = await (await connectApi(opts.dataDir))('listSessions', pageFrom(opts))
      print(opts.json, sessions, () => sessionsTable(sessions))
    })

  program
    .command('approvals')
    .description('list the customers waiting for your approval, with the identity each presented')
    .requiredOption('--data-dir <dir>', 'data folder of the running node')
    .option('--json', 'print JSON')
    .action(async (opts: { dataDir: string; json?: boolean }) => {
      const approvals = await (await connectApi(opts.dataDir))('listApprovals')
      print(opts.json, approvals, () => approvalsTable(approvals))
    })

  for (const decision of ['approve', 'reject'] as const satisfies Decision[]) {
    program
      .command(decision)
      .description(`${decision} the identity of a session waiting for the operator`)
      .argument('<sessionId>', 'id of the session')
      .requiredOption('--data-dir <dir>', 'data folder of the running node')
      .option('--json', 'print JSON')
      .action(async (sessionId: string, opts: { dataDir: string; json?: boolean }) => {
        const result = await (await connectApi(opts.dataDir))('decide', { sessionId, decision })
        if (!result.applied && opts.json !== true) {
          throw new CliError(`not-applied — session ${sessionId} was already decided or is no longer waiting`)
        }
        print(opts.json, result, () => `${decision === 'approve' ? 'approved' : 'rejected'} ${sessionId}`)
      })
  }

  withPageOptions(
    program
      .command('tallies')
      .description('list tallies, newest first (500 unless --limit)')
      .requiredOption('--data-dir <dir>', 'data folder of the running node'),
    'tallies created',
    'createdAt',
    'tallyId'
  )
    .option('--json', 'print JSON')
    .action(async (opts: PageOptions & { dataDir: string; json?: boolean }) => {
      const tallies = await (await connectApi(opts.dataDir))('listTallies', pageFrom(opts))
      print(opts.json, tallies, () => talliesTable(tallies))
    })

  program
    .command('dial')
    .description(
      'bootstrap a tally from a link, with a dialer node of its own; pass the link on stdin ("-") or ' +
        'with --link-file, since a link in the arguments (with its token) is visible to other local users'
    )
    .argument('[link]', '"-" reads the link from stdin; a link here works but is visible to `ps`')
    .option('--link-file <file>', 'read the link from this file ("-": stdin)')
    .addHelpText('after', '\nExamples:\n  taleus dial - < link.txt\n  taleus dial --link-file link.txt\n')
    .option(
      '--data-dir <dir>',
      'data folder of the dialer (default: a temporary one, kept when a tally stays pending); ' +
        'without a link, only settle tallies left pending'
    )
    .option('--identity <fields>', 'identity to present, e.g. email=a@b.c,name=Bo', wrap(parseIdentity))
    .option('--listen <multiaddr>', 'listen address of the dialer (repeatable)', collectListen)
    .option('--json', 'print JSON')
    .action(
      async (
        linkArg: string | undefined,
        opts: {
          linkFile?: string
          dataDir?: string
          identity?: Record<string, string>
          listen?: string[]
          json?: boolean
        }
      ) => {
        // with a data folder and no link, the run only settles tallies an earlier run left pending
        const source =
          linkArg === undefined && opts.linkFile === undefined && opts.dataDir !== undefined
            ? undefined
            : parseLinkSource(linkArg, opts.linkFile)
        const outcome = await dial({
          ...(source === undefined ? {} : { link: await readDialLink(source) }),
          linkFromArgv: source?.from === 'argv',
          json: opts.json === true,
          ...(opts.dataDir === undefined ? {} : { dataDir: opts.dataDir }),
          ...(opts.identity === undefined ? {} : { identity: opts.identity }),
          ...(opts.listen === undefined ? {} : { listen: opts.listen })
        })
        if (outcome?.ok === true) print(opts.json, outcome, () => describeDial(outcome))
      }
    )

  program
    .command('doctor')
    .description("check a stopped node's journals; --repair rewrites damaged ones (keeping a backup)")
    .requiredOption('--data-dir <dir>', 'data folder of the stopped node')
    .option('--repair', 'keep each damaged file as a backup and rewrite it with its good lines')
    .option('--json', 'print JSON')
    .action(async (opts: { dataDir: string; repair?: boolean; json?: boolean }) => {
      const { describeReports, doctor, needsRepair } = await import('./doctor.ts')
      const reports = await doctor({ dataDir: opts.dataDir, repair: opts.repair === true })
      print(opts.json, reports, () => describeReports(reports, opts.repair === true))
      if (opts.repair !== true && reports.some(needsRepair))
        throw new CliError('damage found: run taleus doctor again with --repair (a backup is kept)')
    })

  program
    .command('audit')
    .description('check the audit trail')
    .command('verify')
    .description("check the audit trail's hash chain: OK, or the first broken record (file and line)")
    .requiredOption('--data-dir <dir>', 'data folder of the node (running or stopped)')
    .option('--json', 'print JSON')
    .action(async (opts: { dataDir: string; json?: boolean }) => {
      const { auditVerify, describeVerify } = await import('./audit-verify.ts')
      const report = await auditVerify(opts.dataDir)
      print(opts.json, report, () => describeVerify(report))
      if (!report.ok)
        throw new CliError('the audit trail does not verify: it was edited, cut or lost records')
    })

  program
    .command('console')
    .description("open the running node's browser console (its address holds the secret: never logged)")
    .requiredOption('--data-dir <dir>', 'data folder of the running node')
    .option('--print', 'print the address with its secret instead (only on a terminal)')
    .option('--rotate', 'replace the console secret; open tabs must sign in again')
    .action(async (opts: { dataDir: string; print?: boolean; rotate?: boolean }) => {
      const { consoleCommand } = await import('./console-cmd.ts')
      await consoleCommand({
        dataDir: opts.dataDir,
        ...(opts.print === true ? { print: true } : {}),
        ...(opts.rotate === true ? { rotate: true } : {})
      })
    })

  registerTallyCommand(program)
  return program
}

const parsePortOption = wrap(parsePort)

/** Run the CLI and exit: 0 on success, 1 on failure, 2 on bad arguments; failures as ONE stderr line. */
export async function runCli(argv: string[]): Promise<void> {
  // a reader that has what it wanted (`| head`) closed the pipe: that is the end of the output, not a crash
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw err
  })
  const program = buildProgram()
  let code = 0
  try {
    await program.parseAsync(argv)
  } catch (err) {
    code = reportError(err)
  }
  // kept should the loop empty on its own while the output drains
  process.exitCode = code
  await exitWhenFlushed(code)
}
