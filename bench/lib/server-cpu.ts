import type { PortholeProcess } from '../../test/helpers/porthole-process.js';
import { processCpuSeconds } from './process-cpu.js';
import { median } from './stats.js';
import { runWrk } from './wrk.js';

/** One wrk run against one porthole: its throughput, and the server's CPU time per request. */
export interface CpuSample {
  requestsPerSecond: number;
  /** Server CPU microseconds per request. */
  cpuMicros: number;
}

/**
 * GETs of `path` for `seconds` (wrk -t2 -c32), with the server's CPU time per request: steady
 * where throughput swings by ±10% on a 2-core machine shared with wrk, so that costs of a few
 * percent (metrics, tracing) can be told apart.
 */
export async function measureServerCpu(porthole: PortholeProcess, path: string, seconds: number): Promise<CpuSample> {
  const pid = porthole.process.pid as number;
  const cpuBefore = processCpuSeconds(pid);
  const result = await runWrk(`${porthole.url}${path}`, { seconds });
  const cpu = processCpuSeconds(pid) - cpuBefore;
  if (result.non2xx > 0) throw new Error(`${result.non2xx} failed requests against ${porthole.url}`);
  return { requestsPerSecond: result.requestsPerSecond, cpuMicros: (cpu / result.requests) * 1e6 };
}

/** Medians of a contender's samples. */
export function medianSample(samples: CpuSample[]): CpuSample {
  return { requestsPerSecond: median(samples.map((s) => s.requestsPerSecond)), cpuMicros: median(samples.map((s) => s.cpuMicros)) };
}
