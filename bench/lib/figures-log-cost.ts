import { join } from 'node:path';
import { makeImage } from '../../test/helpers/registry-client.js';
import { medianOfRoundRatios, type AnchorCheck } from './anchor-check.js';
import { PORTHOLE_CONFIG } from './contenders.js';
import { LOAD_CPU, pinningPossible, pinProcess, unpinProcess } from './cpu-pinning.js';
import { captureAnswers, startFastifyCeiling, type CeilingAnswers } from './fastify-ceiling.js';
import { figureOf, type Figure, type Samples } from './figure.js';
import { startQuietPorthole, type QuietPortholeOptions } from './quiet-porthole.js';
import type { Column } from './report.js';
import { cpuMethod, measureServerCpu, measuredPorthole, STEADY_NODE_ARGS, type CpuSample, type MeasuredServer } from './server-cpu.js';
import type { BenchSettings } from './settings.js';
import { median } from './stats.js';

/**
 * What access lines and full-mode metrics cost a manifest GET, as server CPU per request (steady,
 * where throughput swings by ±10% here: server-cpu.ts), the way bench:metrics and bench:tracing
 * measure their costs: every porthole below serves the same small image, and rounds take them in
 * turn, each round starting with another one; a cost is the median over rounds of the CPU per
 * request over its reference's in the same round. Each round has processes of its own, started
 * afresh on the content the first round loaded: two processes of one build and configuration
 * differed by up to 10% in CPU per request for the whole of their lives (V8's memory reducer,
 * now off: STEADY_NODE_ARGS), which a process kept from round to round put into every round alike.
 *  - warn: access lines off (log.level warn), full-mode metrics: the comparison's porthole, and
 *    the reference of the access-log figures;
 *  - warn-again: the same, another process: how far identical processes differ (the noise floor);
 *  - info-stdout: access lines at info to stdout, a pipe the harness reads and drops (as a
 *    container runtime reads a container's stdout);
 *  - info-file: access lines at info to a file (log.output) on the local disk;
 *  - no-metrics: as warn, metrics in minimal mode (no extensions.metrics, never scraped): the
 *    reference of the metrics figure;
 *  - ceiling, ceiling-pino: the Fastify ceiling (fastify-ceiling-server.ts) answering the same
 *    manifest, without and with an access line per request written the way issue 20 proposes
 *    (pino, its asynchronous destination, to a file): what such a line costs, in µs, beside
 *    what porthole's own costs.
 */
export type LogCostName = 'warn' | 'warn-again' | 'info-stdout' | 'info-file' | 'no-metrics' | 'ceiling' | 'ceiling-pino';

export const LOG_COST_COLUMNS: Array<Column<LogCostName>> = [
  { name: 'warn', label: 'access lines off (warn), full metrics' },
  { name: 'warn-again', label: 'the same, another process (noise floor)' },
  { name: 'info-stdout', label: 'access lines at info to stdout (a drained pipe)' },
  { name: 'info-file', label: 'access lines at info to a file' },
  { name: 'no-metrics', label: 'access lines off, metrics minimal (off)' },
  { name: 'ceiling', label: 'Fastify ceiling, no log' },
  { name: 'ceiling-pino', label: 'Fastify ceiling, a pino access line per request to a file' },
];

/** Each contender's cost and the reference it is measured over (the reference itself has none). */
const COSTS: Array<{ of: LogCostName; over: LogCostName }> = [
  { of: 'warn-again', over: 'warn' },
  { of: 'info-stdout', over: 'warn' },
  { of: 'info-file', over: 'warn' },
  { of: 'warn', over: 'no-metrics' },
  { of: 'ceiling-pino', over: 'ceiling' },
];

const PATH = '/v2/bench/app/manifests/v1';

export interface LogCostRun {
  /** Server CPU per request (µs) and throughput (req/s), per contender. */
  cpu: Figure<LogCostName>;
  throughput: Figure<LogCostName>;
  /** Each cost: the median over rounds of the per-round ratio, with the rounds' ratios, and of the per-round difference in µs. */
  costs: Array<{ of: LogCostName; over: LogCostName; ratio: number; rounds: number[]; micros: number }>;
  checks: AnchorCheck[];
  method: string;
}

type PortholeName = Exclude<LogCostName, 'ceiling' | 'ceiling-pino'>;

function isPorthole(name: LogCostName): name is PortholeName {
  return name !== 'ceiling' && name !== 'ceiling-pino';
}

function optionsOf(name: PortholeName, dir: string): { config: string; options: QuietPortholeOptions } {
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

/** A process of a round: a porthole or a ceiling. */
type RoundServer = MeasuredServer & { dispose(): Promise<void> };

/**
 * Starts a round's processes into `servers`: the portholes, each on its content directory, then
 * `load` (which pushes the content in the first round), then the ceilings with what porthole answers.
 */
async function startRound(dir: string, contentOf: (name: LogCostName) => string, servers: Map<LogCostName, RoundServer>, load: () => Promise<CeilingAnswers>): Promise<void> {
  for (const { name } of LOG_COST_COLUMNS) {
    if (!isPorthole(name)) continue;
    const { config, options } = optionsOf(name, dir);
    const porthole = await startQuietPorthole(config, { ...options, root: contentOf(name), nodeArgs: STEADY_NODE_ARGS });
    servers.set(name, { ...measuredPorthole(porthole), dispose: () => porthole.dispose() });
  }
  const answers = await load();
  const ceiling = await startFastifyCeiling(dir, answers, { nodeArgs: STEADY_NODE_ARGS });
  servers.set('ceiling', { ...ceiling, dispose: () => ceiling.stop() });
  const withLines = await startFastifyCeiling(dir, answers, { accessLog: join(dir, 'access-ceiling-pino.log'), nodeArgs: STEADY_NODE_ARGS });
  servers.set('ceiling-pino', { ...withLines, dispose: () => withLines.stop() });
}

async function stopRound(servers: Map<LogCostName, RoundServer>): Promise<void> {
  for (const server of servers.values()) await server.dispose();
  servers.clear();
}

/** The image every porthole serves (pushed by the first round), and the ceilings' answers, read from warn. */
async function loadContent(servers: Map<LogCostName, RoundServer>): Promise<CeilingAnswers> {
  for (const [name, server] of servers) if (isPorthole(name)) await makeImage(server.url, 'bench/app', { tag: 'v1' });
  const reference = servers.get('warn') as RoundServer;
  const manifest = (await (await fetch(`${reference.url}${PATH}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' }, signal: AbortSignal.timeout(10_000) })).json()) as { layers: Array<{ digest: string }> };
  const layer = manifest.layers[0]?.digest;
  if (layer === undefined) throw new Error('the bench image has no layer');
  return captureAnswers(reference.url, PATH, `/v2/bench/app/blobs/${layer}`);
}

/**
 * Measures the portholes and the ceilings round by round (each round's processes started by
 * startRound and stopped after it), and returns the figures. While it measures, the harness itself runs on
 * wrk's core: it drains info-stdout's pipe, which must not take the server's core.
 */
export async function logCostFigures(dir: string, settings: BenchSettings, track: (what: string, stop: () => Promise<void>) => void): Promise<LogCostRun> {
  const names = LOG_COST_COLUMNS.map((column) => column.name);
  const contentOf = (name: LogCostName): string => join(dir, `log-cost-content-${name}`);
  const pinned = pinningPossible();
  const samples = Object.fromEntries(names.map((name) => [name, [] as CpuSample[]])) as Record<LogCostName, CpuSample[]>;
  // The round's processes, started and stopped by the round: teardown stops those of a round cut short.
  const servers = new Map<LogCostName, RoundServer>();
  track('stop the access-log figures\' servers', () => stopRound(servers));
  const server = (name: LogCostName): RoundServer => servers.get(name) as RoundServer;
  let answers: CeilingAnswers | undefined;
  const load = async (): Promise<CeilingAnswers> => (answers ??= await loadContent(servers));
  console.error('bench: anchors: access lines and metrics, server CPU per manifest GET');
  for (let round = 0; round < settings.cpuRounds; round += 1) {
    await startRound(dir, contentOf, servers, load);
    try {
      if (pinned) pinProcess(process.pid, LOAD_CPU);
      for (const name of names) await measureServerCpu(server(name), PATH, WARM_UP_SECONDS);
      for (let turn = 0; turn < names.length; turn += 1) {
        const name = names[(round + turn) % names.length] as LogCostName;
        samples[name][round] = await measureServerCpu(server(name), PATH, settings.cpuSeconds);
      }
    } finally {
      if (pinned) unpinProcess(process.pid);
      await stopRound(servers);
    }
  }
  const of = (pick: (sample: CpuSample) => number): Samples<LogCostName> =>
    Object.fromEntries(names.map((name) => [name, samples[name].map(pick)])) as Samples<LogCostName>;
  const cpu = figureOf('GET manifest by tag, server CPU per request', 'µs', 1, of((sample) => sample.cpuMicros));
  const throughput = figureOf('GET manifest by tag, throughput', 'req/s', 0, of((sample) => sample.requestsPerSecond));
  const costs = COSTS.map(({ of: a, over: b }) => {
    const rounds = cpu.samples[a].map((value, round) => value / (cpu.samples[b][round] as number));
    const micros = median(cpu.samples[a].map((value, round) => value - (cpu.samples[b][round] as number)));
    return { of: a, over: b, ratio: medianOfRoundRatios(cpu.samples[a], cpu.samples[b]), rounds, micros };
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
  const method = `${cpuMethod}; ${settings.cpuRounds} round(s) of ${settings.cpuSeconds} s runs, each round with processes of its own (node ${STEADY_NODE_ARGS.join(' ')}: V8's idle-time heap shrinking off), started afresh and warmed up for ${WARM_UP_SECONDS} s, and starting with another contender`;
  return { cpu, throughput, costs, checks, method };
}
