import type { PortholeProcess } from '../../test/helpers/porthole-process.js';
import { LOAD_CPU, pinningPossible, pinProcess, SERVER_CPU } from './cpu-pinning.js';
import { processCpuSeconds } from './process-cpu.js';
import { median } from './stats.js';
import { runWrk } from './wrk.js';

/**
 * Node.js options for a process whose CPU per request is measured: V8 off the idle-time garbage
 * collection it starts some seconds after a burst of allocation ends (the memory reducer, which
 * shrinks the heap). With it, of two identical processes the one warmed up last measured 15-20%
 * more CPU per request for a whole round (figures-log-cost.ts), and processes each warmed up right
 * before they were measured differed by up to 24% (its state when measured depends on how long
 * ago each one's last load ended). Without it, twins agree within a few percent. It starts only
 * once a process has gone quiet: a server under steady load, which these figures are about,
 * never meets it.
 */
export const STEADY_NODE_ARGS = ['--no-memory-reducer'];

/** A server whose CPU is counted: where it listens, and its process (all of its threads). */
export interface MeasuredServer {
  url: string;
  pid: number;
}

/** A porthole as measured: its URL and its process. */
export function measuredPorthole(porthole: PortholeProcess): MeasuredServer {
  return { url: porthole.url, pid: porthole.process.pid as number };
}

/** One wrk run against one server: its throughput, and the server's CPU time per request. */
export interface CpuSample {
  requestsPerSecond: number;
  /** Server CPU microseconds per request. */
  cpuMicros: number;
}

const pinned = pinningPossible();

/** How the samples were taken, for the figures' notes. */
export const cpuMethod = pinned
  ? `server pinned to core ${SERVER_CPU} (all its threads), wrk -t1 -c16 pinned to core ${LOAD_CPU}`
  : 'unpinned (taskset unavailable or a single core), wrk -t2 -c32';

/**
 * GETs of `path` for `seconds`, with the server's CPU time per request: steady where throughput
 * swings by ±10% on a 2-core machine shared with wrk, so that costs of a few percent (metrics,
 * tracing) can be told apart. Server and wrk each get a core of their own where possible.
 */
export async function measureServerCpu(server: MeasuredServer, path: string, seconds: number): Promise<CpuSample> {
  const { pid } = server;
  // Pinned again before every run: threads started since (the thread pool grows on demand) follow.
  if (pinned) pinProcess(pid, SERVER_CPU);
  const cpuBefore = processCpuSeconds(pid);
  const result = await runWrk(`${server.url}${path}`, pinned ? { seconds, cpu: LOAD_CPU, threads: 1, connections: 16 } : { seconds });
  const cpu = processCpuSeconds(pid) - cpuBefore;
  if (result.non2xx > 0) throw new Error(`${result.non2xx} failed requests against ${server.url}`);
  return { requestsPerSecond: result.requestsPerSecond, cpuMicros: (cpu / result.requests) * 1e6 };
}

/** Medians of a contender's samples. */
export function medianSample(samples: CpuSample[]): CpuSample {
  return { requestsPerSecond: median(samples.map((s) => s.requestsPerSecond)), cpuMicros: median(samples.map((s) => s.cpuMicros)) };
}

/**
 * The median, over rounds, of a contender's CPU per request over the reference's in the same
 * round: the machine's drift from round to round (it moves every contender alike) cancels out.
 */
export function medianRatio(samples: CpuSample[], reference: CpuSample[]): number {
  return median(samples.map((sample, round) => sample.cpuMicros / (reference[round] as CpuSample).cpuMicros));
}
