/**
 * The cost of tracing (issue 12), measured on this machine in one run: GET manifest by tag, server
 * CPU time per request (steady, where throughput swings by ±10% on a 2-core machine shared with
 * wrk), the server on one core and wrk on the other (lib/cpu-pinning.ts), in rounds that take the
 * contenders in turn; each contender's cost is the median over rounds of its CPU per request over
 * tracing off's in the same round, so that the machine's drift between rounds cancels out:
 *  - tracing off (the default: no OpenTelemetry module loaded), twice, in two sets of processes:
 *    how far identical processes differ is the noise floor the other figures stand on;
 *  - on at samplingProb 0 (every request decides not to sample): target at most 3% over off;
 *  - on at 0.1;
 *  - on at 1.0, every span exported to an OTLP/HTTP endpoint that accepts everything without
 *    decoding it (lib/otlp-sink.ts, standing in for a collector; it runs in this process, on
 *    wrk's core): target at most 25%;
 *  - the floors under that: porthole's tracer (recorder/) and export alone making the same spans
 *    at a similar rate in a process of their own (lib/otel-floor.ts), and the OpenTelemetry SDK's
 *    tracer over the same export, in every round too, as shares of tracing off's CPU per request:
 *    what the instrumentation cannot go under with either tracer.
 * Run: npm run bench:tracing [-- --quick]. Prints a Markdown table.
 */
import type { PortholeProcess } from '../test/helpers/porthole-process.js';
import { measureOtelFloor } from './lib/otel-floor.js';
import { startOtlpSink, type OtlpSink } from './lib/otlp-sink.js';
import { makeImage } from '../test/helpers/registry-client.js';
import { startQuietPorthole } from './lib/quiet-porthole.js';
import { LOAD_CPU, pinningPossible, pinProcess, SERVER_CPU } from './lib/cpu-pinning.js';
import { cpuMethod, measureServerCpu, measuredPorthole, medianRatio, medianSample, STEADY_NODE_ARGS, type CpuSample } from './lib/server-cpu.js';
import { median } from './lib/stats.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 2 : 12;
const WRK_SECONDS = quick ? 2 : 4;
const PATH = '/v2/bench/app/manifests/v1';
/**
 * Processes per contender, one measured a round, in turn: two identical porthole processes here
 * differ by up to 7% for their whole life (how their memory happens to be laid out), which rounds
 * alone do not average away; a figure from one process each would be that process's luck.
 */
const PROCESSES = quick ? 1 : 3;
/** A contender's process in a round: each in turn, paired with a different process of tracing off in each pass over them. */
function processOf(round: number, contender: number): number {
  return (round + contender * Math.floor(round / PROCESSES)) % PROCESSES;
}
/** Requests a second of the floor runs: about what porthole serves at samplingProb 1 here. */
const FLOOR_RATE = 4_000;

interface Contender {
  title: string;
  config: string;
  target?: { percent: number };
  /** Its processes, measured in turn, one a round (see PROCESSES). */
  processes: Array<PortholeProcess & { dispose(): Promise<void> }>;
  samples: CpuSample[];
}

function tracingAt(probability: number, endpoint: string): string {
  return `tracing:\n  enable: true\n  endpoint: ${endpoint}\n  samplingProb: ${probability}\n`;
}

async function measure(porthole: PortholeProcess, receiver: OtlpSink): Promise<CpuSample> {
  const sample = await measureServerCpu(measuredPorthole(porthole), PATH, WRK_SECONDS);
  // The spans of one contender's run are exported after it, and must not be counted against the next one.
  await receiver.settled();
  return sample;
}

// The stand-in collector runs in this process: it decodes every span at 1.0, which must not
// take the server's core.
if (pinningPossible()) pinProcess(process.pid, LOAD_CPU);
const receiver = await startOtlpSink();
const contenders: Contender[] = [
  { title: 'tracing off', config: '', processes: [], samples: [] },
  { title: 'tracing off, other processes (noise floor)', config: '', processes: [], samples: [] },
  { title: 'tracing on, samplingProb 0', config: tracingAt(0, receiver.url), target: { percent: 3 }, processes: [], samples: [] },
  { title: 'tracing on, samplingProb 0.1', config: tracingAt(0.1, receiver.url), processes: [], samples: [] },
  { title: 'tracing on, samplingProb 1.0, every span exported', config: tracingAt(1, receiver.url), target: { percent: 25 }, processes: [], samples: [] },
];
/** Each tracer's CPU per request alone in each round, and the floor loop's own (no spans), taken off. */
const floorSamples = { recorder: [] as number[], sdk: [] as number[] };
let floorIdle = 0;
const floorRun = (mode: 'recorder' | 'sdk' | 'idle') => measureOtelFloor(receiver.url, { rate: FLOOR_RATE, seconds: WRK_SECONDS, mode, ...(pinningPossible() ? { cpu: SERVER_CPU } : {}) });
try {
  floorIdle = await floorRun('idle');
  for (const contender of contenders) {
    for (let index = 0; index < PROCESSES; index += 1) {
      const porthole = await startQuietPorthole(contender.config, { nodeArgs: STEADY_NODE_ARGS });
      contender.processes.push(porthole);
      await makeImage(porthole.url, 'bench/app', { tag: 'v1' });
    }
  }
  // Warm each (JIT, manifest cache) before measuring.
  for (const contender of contenders) for (const porthole of contender.processes) await measure(porthole, receiver);
  // Each round starts with another contender: the place in a round is worth several percent here
  // (the first run after a pause is the fastest), which must fall on every contender alike.
  for (let round = 0; round < ROUNDS; round += 1) {
    for (let turn = 0; turn < contenders.length; turn += 1) {
      const contender = contenders[(round + turn) % contenders.length] as Contender;
      contender.samples.push(await measure(contender.processes[processOf(round, contenders.indexOf(contender))] as PortholeProcess, receiver));
    }
    floorSamples.recorder.push(await floorRun('recorder'));
    floorSamples.sdk.push(await floorRun('sdk'));
    await receiver.settled();
  }
} finally {
  await Promise.all(contenders.flatMap((contender) => contender.processes.map((porthole) => porthole.dispose())));
  await receiver.close();
}

const off = contenders[0] as Contender;
console.log(`Method: ${cpuMethod}; ${ROUNDS} rounds of ${WRK_SECONDS} s runs, ${PROCESSES} processes per contender taking the rounds in turn, after a warm-up run each.\n`);
console.log('| figure | req/s | server CPU per request | over tracing off (median of rounds) | rounds, lowest – highest | target | result |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const contender of contenders) {
  const sample = medianSample(contender.samples);
  const over = (medianRatio(contender.samples, off.samples) - 1) * 100;
  const perRound = contender.samples.map((own, round) => (own.cpuMicros / (off.samples[round] as CpuSample).cpuMicros - 1) * 100);
  const spread = `${Math.min(...perRound).toFixed(1)}% – ${Math.max(...perRound).toFixed(1)}%`;
  const target = contender.target ? `≤ ${contender.target.percent}%` : '';
  const result = contender.target ? (over <= contender.target.percent ? 'pass' : '**FAIL**') : '';
  const first = contender === off;
  const shown = first ? '' : `${over >= 0 ? '+' : ''}${over.toFixed(1)}%`;
  console.log(`| GET manifest by tag, ${contender.title} | ${sample.requestsPerSecond.toFixed(0)} | ${sample.cpuMicros.toFixed(1)} µs | ${shown} | ${first ? '' : spread} | ${target} | ${result} |`);
}
const floorTitles = {
  recorder: "porthole's tracer and OTLP export alone",
  sdk: "the OpenTelemetry SDK's tracer and porthole's OTLP export alone",
};
const floorShareOf = (samples: number[]) => samples.map((micros, round) => ((micros - floorIdle) / (off.samples[round] as CpuSample).cpuMicros) * 100);
for (const mode of ['recorder', 'sdk'] as const) {
  const shares = floorShareOf(floorSamples[mode]);
  console.log(
    `| ${floorTitles[mode]}, the same two spans per request at ${FLOOR_RATE}/s, no porthole (a floor) | | ${(median(floorSamples[mode]) - floorIdle).toFixed(1)} µs | +${median(shares).toFixed(1)}% | ${Math.min(...shares).toFixed(1)}% – ${Math.max(...shares).toFixed(1)}% | | |`,
  );
}
const floorShare = median(floorShareOf(floorSamples.recorder));
const full = contenders[contenders.length - 1] as Contender;
const fullOver = (medianRatio(full.samples, off.samples) - 1) * 100;
console.log(`\nAt samplingProb 1.0: ${fullOver.toFixed(1)}% over tracing off, of which its tracer and export alone (the floor) are ${floorShare.toFixed(1)}% and porthole's hooks, scopes and store decorators in place the other ${(fullOver - floorShare).toFixed(1)} points.`);
console.log(`(The floor loop's own pacing, without spans, cost ${floorIdle.toFixed(1)} µs per request and is taken off.)`);
console.log(`\nexports taken by the stand-in collector: ${receiver.exports()}, ${(receiver.bytes() / 1024 / 1024).toFixed(0)} MiB of OTLP/protobuf`);
