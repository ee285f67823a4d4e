// libp2p 3 needs Promise.withResolvers (Node 22): the polyfill must load before anything else.
import '../polyfill.ts'
import { runCli } from './program.ts'

/** The `taleus` command line: run with this process's arguments. */
await runCli(process.argv)
