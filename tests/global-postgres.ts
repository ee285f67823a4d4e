/**
 * Vitest global set-up: the cadre store's suites need a PostgreSQL server. When TALEUS_TEST_PG is not set
 * and we run as root (CI, these machines), start Debian's server with scripts/test-postgres.sh, as the e2e
 * runner does for Chromium; otherwise those suites print that they were skipped and why.
 */
import { spawnSync } from 'node:child_process'

/** Sets TALEUS_TEST_PG for the test workers when a server can be had. */
export default function setup(): void {
  if (process.env.TALEUS_TEST_PG !== undefined || process.env.TALEUS_NO_PG === '1') return
  if (process.getuid?.() !== 0) {
    console.info(
      'postgres: not root, so no PostgreSQL is started; set TALEUS_TEST_PG to run the cadre store tests'
    )
    return
  }
  const result = spawnSync('bash', ['scripts/test-postgres.sh'], { encoding: 'utf8', timeout: 300_000 })
  const url = result.stdout.trim().split('\n').pop()
  if (result.status !== 0 || url === undefined || !url.startsWith('postgres://')) {
    console.info(
      `postgres: could not start PostgreSQL (${result.stderr.trim().split('\n').pop() ?? 'no output'})`
    )
    return
  }
  process.env.TALEUS_TEST_PG = url
}
