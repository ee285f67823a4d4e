/**
 * Profiles of one bench process's burst: a CPU profile (BENCH_BURST_PROF=DIR) and a sampling heap profile of
 * everything the burst allocates, garbage included (BENCH_BURST_HEAP=DIR), written as
 * DIR/burst-NAME-PID.cpuprofile / .heapprofile. Summarise with bench/profile-summary.js.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'

/** A running burst profile; stop() writes the files. */
export interface BurstProfiles {
  stop(): Promise<void>
}

function dirOf(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}

/** Starts the profiles the environment asks for (none: stop() does nothing). */
export async function startBurstProfiles(name: string): Promise<BurstProfiles> {
  const cpuDir = dirOf(process.env.BENCH_BURST_PROF)
  const heapDir = dirOf(process.env.BENCH_BURST_HEAP)
  let cpu: Session | undefined
  if (cpuDir !== undefined) {
    cpu = new Session()
    cpu.connect()
    await cpu.post('Profiler.enable')
    await cpu.post('Profiler.start')
  }
  let heap: Session | undefined
  if (heapDir !== undefined) {
    heap = new Session()
    heap.connect()
    await heap.post('HeapProfiler.enable')
    await heap.post('HeapProfiler.startSampling', {
      samplingInterval: 16384,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true
    })
  }
  const save = async (
    session: Session | undefined,
    method: 'Profiler.stop' | 'HeapProfiler.stopSampling',
    dir: string | undefined,
    ext: string
  ): Promise<void> => {
    if (session === undefined || dir === undefined) return
    // both answers carry `profile`; the union of methods picks no single overload of post()
    const { profile } = (await session.post(method as 'Profiler.stop')) as { profile: object }
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, `burst-${name}-${process.pid}.${ext}`), JSON.stringify(profile))
    session.disconnect()
  }
  return {
    stop: async () => {
      await save(cpu, 'Profiler.stop', cpuDir, 'cpuprofile')
      await save(heap, 'HeapProfiler.stopSampling', heapDir, 'heapprofile')
      cpu = undefined
      heap = undefined
    }
  }
}
