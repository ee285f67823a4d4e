/**
 * The CLI delivers all of its output before it exits, keeping its exit code, when stdout is a pipe whose
 * reader is slow: a pipe takes 64 KiB at once, and an exit before the rest drained cut the JSON short
 * (still exit 0). `doctor --json` on a folder of damaged lines prints hundreds of KiB with no node running.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, ROOT, ensureBuilt } from '../helpers/built-cli.ts'

const DAMAGED_LINES = 5000

/**
 * Run the CLI as `taleus ARGS | (sleep 1; cat)` does: a shell pipe (node's own child pipes are sockets,
 * whose buffers are larger and would hide the bug). Its exit code comes back through a file.
 */
async function throughSlowReader(
  args: string[],
  codeFile: string
): Promise<{ code: number; stdout: string }> {
  const script = '{ "$@"; echo $? > "$CODE_FILE"; } | { sleep 1; cat; }'
  const shell = spawn('sh', ['-c', script, 'sh', process.execPath, BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, CODE_FILE: codeFile },
    stdio: ['ignore', 'pipe', 'ignore']
  })
  let stdout = ''
  shell.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  await new Promise((resolve) => shell.once('close', resolve))
  return { code: Number((await readFile(codeFile, 'utf8')).trim()), stdout }
}

describe('CLI output into a slow pipe', () => {
  let dir: string

  beforeAll(async () => {
    ensureBuilt()
    dir = await mkdtemp(join(tmpdir(), 'taleus-cli-pipe-'))
    const lines = Array.from({ length: DAMAGED_LINES }, (_, i) => `not a record ${i}`)
    await writeFile(join(dir, 'tallies.jsonl'), lines.join('\n') + '\n')
  })

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('a failing command: every byte of its JSON arrives, and it still exits 1', async () => {
    const run = await throughSlowReader(['doctor', '--json', '--data-dir', dir], join(dir, 'code-1'))
    expect(run.stdout.length).toBeGreaterThan(3 * 65536)
    const [report] = JSON.parse(run.stdout) as Array<{ damaged: unknown[] }>
    expect(report?.damaged).toHaveLength(DAMAGED_LINES)
    expect(run.code).toBe(1)
  })

  it('a succeeding command: every byte of its JSON arrives, and it exits 0', async () => {
    const run = await throughSlowReader(
      ['doctor', '--repair', '--json', '--data-dir', dir],
      join(dir, 'code-2')
    )
    expect(run.stdout.length).toBeGreaterThan(3 * 65536)
    const [report] = JSON.parse(run.stdout) as Array<{ damaged: unknown[]; backup?: string }>
    expect(report?.damaged).toHaveLength(DAMAGED_LINES)
    expect(report?.backup).toBeDefined()
    expect(run.code).toBe(0)
  })

  it('a reader that stops early (`| head`) ends the output without a crash on stderr', async () => {
    const shell = spawn(
      'sh',
      [
        '-c',
        '"$@" | head -c 20 > /dev/null',
        'sh',
        process.execPath,
        BIN,
        'doctor',
        '--json',
        '--data-dir',
        dir
      ],
      { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] }
    )
    let stderr = ''
    shell.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    await new Promise((resolve) => shell.once('close', resolve))
    expect(stderr).not.toMatch(/EPIPE|Error|at /)
  })
})
