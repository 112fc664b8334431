import { join } from 'node:path';
import type { PortholeProcess } from '../../test/helpers/porthole-process.js';
import { makeImage } from '../../test/helpers/registry-client.js';
import { medianOfRoundRatios, type AnchorCheck } from './anchor-check.js';
import { PORTHOLE_CONFIG } from './contenders.js';
import { LOAD_CPU, pinningPossible, pinProcess, unpinProcess } from './cpu-pinning.js';
import { figureOf, type Figure, type Samples } from './figure.js';
import { startQuietPorthole, type QuietPortholeOptions } from './quiet-porthole.js';
import type { Column } from './report.js';
import { cpuMethod, measureServerCpu, type CpuSample } from './server-cpu.js';
import type { BenchSettings } from './settings.js';

/**
 * What access lines and full-mode metrics cost a manifest GET, as server CPU per request (steady,
 * where throughput swings by ±10% here: server-cpu.ts), the way bench:metrics and bench:tracing
 * measure their costs: every porthole below serves the same small image, and rounds take them in
 * turn, each round starting with another one; a cost is the median over rounds of the CPU per
 * request over its reference's in the same round. Each round has processes of its own, started
 * afresh on the content the first round loaded: two processes of one build and configuration
 * differed by up to 10% in CPU per request for the whole of their lives (most likely V8's memory
 * reducer, see NODE_ARGS), which a process kept from round to round put into every round alike.
 *  - warn: access lines off (log.level warn), full-mode metrics: the comparison's porthole, and
 *    the reference of the access-log figures;
 *  - warn-again: the same, another process: how far identical processes differ (the noise floor);
 *  - info-stdout: access lines at info to stdout, a pipe the harness reads and drops (as a
 *    container runtime reads a container's stdout);
 *  - info-file: access lines at info to a file (log.output) on the local disk;
 *  - no-metrics: as warn, metrics in minimal mode (no extensions.metrics, never scraped): the
 *    reference of the metrics figure.
 */
export type LogCostName = 'warn' | 'warn-again' | 'info-stdout' | 'info-file' | 'no-metrics';

export const LOG_COST_COLUMNS: Array<Column<LogCostName>> = [
  { name: 'warn', label: 'access lines off (warn), full metrics' },
  { name: 'warn-again', label: 'the same, another process (noise floor)' },
  { name: 'info-stdout', label: 'access lines at info to stdout (a drained pipe)' },
  { name: 'info-file', label: 'access lines at info to a file' },
  { name: 'no-metrics', label: 'access lines off, metrics minimal (off)' },
];

/** Each contender's cost and the reference it is measured over (the reference itself has none). */
const COSTS: Array<{ of: LogCostName; over: LogCostName }> = [
  { of: 'warn-again', over: 'warn' },
  { of: 'info-stdout', over: 'warn' },
  { of: 'info-file', over: 'warn' },
  { of: 'warn', over: 'no-metrics' },
];

const PATH = '/v2/bench/app/manifests/v1';

export interface LogCostRun {
  /** Server CPU per request (µs) and throughput (req/s), per contender. */
  cpu: Figure<LogCostName>;
  throughput: Figure<LogCostName>;
  /** Each cost: the median over rounds of the per-round ratio, with the rounds' ratios. */
  costs: Array<{ of: LogCostName; over: LogCostName; ratio: number; rounds: number[] }>;
  checks: AnchorCheck[];
  method: string;
}

function optionsOf(name: LogCostName, dir: string): { config: string; options: QuietPortholeOptions } {
  switch (name) {
    case 'info-stdout':
      return { config: PORTHOLE_CONFIG, options: { accessLog: 'stdout' } };
    case 'info-file':
      return { config: PORTHOLE_CONFIG, options: { accessLog: { file: join(dir, 'access-info-file.log') } } };
    case 'no-metrics':
      return { config: '', options: {} };
    default:
      return { config: PORTHOLE_CONFIG, options: {} };
  }
}

/** A warm-up run before each process is measured: the JIT and the manifest cache. */
const WARM_UP_SECONDS = 2;

type Porthole = PortholeProcess & { dispose(): Promise<void> };

/**
 * V8 off the idle-time garbage collection it starts some seconds after a burst of allocation ends
 * (the memory reducer, which shrinks the heap): with it, the process warmed up last measured
 * 15-20% more CPU per request than its identical twin for the whole round, and processes each
 * warmed up right before they were measured differed by up to 24% (its state when measured
 * depends on how long ago each one's last load ended). Without it, twins agree within a few
 * percent. It starts only once a process has gone quiet: a server under steady load, which these
 * figures are about, never meets it.
 */
const NODE_ARGS = ['--no-memory-reducer'];

/** Starts the five portholes of a round into `portholes`, each on its content directory (loaded by the first round). */
async function startRound(dir: string, contentOf: (name: LogCostName) => string, portholes: Map<LogCostName, Porthole>): Promise<void> {
  for (const column of LOG_COST_COLUMNS) {
    const { config, options } = optionsOf(column.name, dir);
    portholes.set(column.name, await startQuietPorthole(config, { ...options, root: contentOf(column.name), nodeArgs: NODE_ARGS }));
  }
}

async function stopRound(portholes: Map<LogCostName, Porthole>): Promise<void> {
  for (const porthole of portholes.values()) await porthole.dispose();
  portholes.clear();
}

/**
 * Measures the five portholes round by round (each round's processes started by startRound and
 * stopped after it), and returns the figures. While it measures, the harness itself runs on
 * wrk's core: it drains info-stdout's pipe, which must not take the server's core.
 */
export async function logCostFigures(dir: string, settings: BenchSettings, track: (what: string, stop: () => Promise<void>) => void): Promise<LogCostRun> {
  const names = LOG_COST_COLUMNS.map((column) => column.name);
  const contentOf = (name: LogCostName): string => join(dir, `log-cost-content-${name}`);
  const pinned = pinningPossible();
  const samples = Object.fromEntries(names.map((name) => [name, [] as CpuSample[]])) as Record<LogCostName, CpuSample[]>;
  // The round's processes, started and stopped by the round: teardown stops those of a round cut short.
  const portholes = new Map<LogCostName, Porthole>();
  track('stop the access-log figures\' portholes', () => stopRound(portholes));
  const porthole = (name: LogCostName): Porthole => portholes.get(name) as Porthole;
  console.error('bench: anchors: access lines and metrics, server CPU per manifest GET');
  for (let round = 0; round < settings.cpuRounds; round += 1) {
    await startRound(dir, contentOf, portholes);
    try {
      if (round === 0) for (const name of names) await makeImage(porthole(name).url, 'bench/app', { tag: 'v1' });
      if (pinned) pinProcess(process.pid, LOAD_CPU);
      for (const name of names) await measureServerCpu(porthole(name), PATH, WARM_UP_SECONDS);
      for (let turn = 0; turn < names.length; turn += 1) {
        const name = names[(round + turn) % names.length] as LogCostName;
        samples[name][round] = await measureServerCpu(porthole(name), PATH, settings.cpuSeconds);
      }
    } finally {
      if (pinned) unpinProcess(process.pid);
      await stopRound(portholes);
    }
  }
  const of = (pick: (sample: CpuSample) => number): Samples<LogCostName> =>
    Object.fromEntries(names.map((name) => [name, samples[name].map(pick)])) as Samples<LogCostName>;
  const cpu = figureOf('GET manifest by tag, server CPU per request', 'µs', 1, of((sample) => sample.cpuMicros));
  const throughput = figureOf('GET manifest by tag, throughput', 'req/s', 0, of((sample) => sample.requestsPerSecond));
  const costs = COSTS.map(({ of: a, over: b }) => {
    const rounds = cpu.samples[a].map((value, round) => value / (cpu.samples[b][round] as number));
    return { of: a, over: b, ratio: medianOfRoundRatios(cpu.samples[a], cpu.samples[b]), rounds };
  });
  const costOf = (name: LogCostName): number => costs.find((cost) => cost.of === name)?.ratio ?? Number.NaN;
  const perRound = 'server CPU per request over access lines off (warn), median over rounds';
  const checks: AnchorCheck[] = [
    { name: 'access lines at info to stdout vs off, server CPU per request', measure: perRound, value: costOf('info-stdout'), digits: 3, kind: 'at-most', bound: 1.1 },
    { name: 'access lines at info to a file vs off, server CPU per request', measure: perRound, value: costOf('info-file'), digits: 3, kind: 'at-most', bound: 1.1 },
    {
      name: 'full-mode metrics on vs off, server CPU per request',
      measure: 'server CPU per request over metrics minimal, median over rounds (both at warn)',
      value: costOf('warn'),
      digits: 3,
      kind: 'at-most',
      bound: 1.03,
    },
  ];
  const method = `${cpuMethod}; ${settings.cpuRounds} round(s) of ${settings.cpuSeconds} s runs, each round with processes of its own (node ${NODE_ARGS.join(' ')}: V8's idle-time heap shrinking off), started afresh and warmed up for ${WARM_UP_SECONDS} s, and starting with another contender`;
  return { cpu, throughput, costs, checks, method };
}
