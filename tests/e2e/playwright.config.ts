/**
 * Playwright projects of the console's UI tests: `chromium` (Debian's browser against `taleus serve`),
 * `electron` (the same specs through `_electron.launch`, where the binary exists) and `screenshots`
 * (docs/screenshots, on demand). Run them through tests/e2e/run.js.
 */
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defineConfig } from '@playwright/test'

export default defineConfig({
  testDir: '.',
  outputDir: join(tmpdir(), 'taleus-e2e-results'),
  // 2 cores: each test runs nodes, CLI dialers and a browser; one at a time keeps them honest.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 120_000,
  // a hung run fails with what was running instead of running into CI's limit (a whole run takes ~4 min)
  globalTimeout: 30 * 60_000,
  expect: { timeout: 20_000 },
  reporter: [['list']],
  use: { actionTimeout: 20_000 },
  projects: [
    { name: 'chromium', testMatch: /.*\.spec\.ts$/, testIgnore: /screenshots\.spec\.ts$/ },
    { name: 'electron', testMatch: /.*\.spec\.ts$/, testIgnore: /screenshots\.spec\.ts$/ },
    { name: 'screenshots', testMatch: /screenshots\.spec\.ts$/ }
  ]
})
