/**
 * The cost of tracing (issue 12), measured on this machine in one run: GET manifest by tag, wrk
 * -t2 -c32, server CPU time per request (steady, where throughput swings by ±10% on a 2-core
 * machine shared with wrk), medians of rounds that take the contenders in turn:
 *  - tracing off (the default: no OpenTelemetry module loaded), twice, in two processes: how far
 *    two identical processes differ is the noise floor the other figures stand on;
 *  - on at samplingProb 0 (every request decides not to sample): target at most 3% over off;
 *  - on at 0.1;
 *  - on at 1.0, every span exported to an OTLP/HTTP receiver that accepts everything (the
 *    test receiver, standing in for a collector; it runs in this process): target at most 25%.
 * Run: npm run bench:tracing [-- --quick]. Prints a Markdown table.
 */
import type { PortholeProcess } from '../test/helpers/porthole-process.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { startOtlpReceiver, type OtlpReceiver } from '../test/helpers/otlp-receiver.js';
import { makeImage } from '../test/helpers/registry-client.js';
import { startQuietPorthole } from './lib/quiet-porthole.js';
import { measureServerCpu, medianSample, type CpuSample } from './lib/server-cpu.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 1 : 5;
const WRK_SECONDS = quick ? 2 : 8;
const PATH = '/v2/bench/app/manifests/v1';

interface Contender {
  title: string;
  config: string;
  target?: { percent: number };
  porthole?: PortholeProcess & { dispose(): Promise<void> };
  samples: CpuSample[];
}

function tracingAt(probability: number, endpoint: string): string {
  return `tracing:\n  enable: true\n  endpoint: ${endpoint}\n  samplingProb: ${probability}\n`;
}

/**
 * Waits until the collector has received nothing new for a second (bounded): the spans of one
 * contender's run are exported after it, and must not be counted against the next one.
 */
async function exportsSettled(receiver: OtlpReceiver): Promise<void> {
  const deadline = Date.now() + 30_000;
  let seen = -1;
  while (Date.now() < deadline && receiver.spans().length !== seen) {
    seen = receiver.spans().length;
    await sleep(1_000);
  }
}

async function measure(contender: Contender, receiver: OtlpReceiver): Promise<CpuSample> {
  if (!contender.porthole) throw new Error(`${contender.title} did not start`);
  const sample = await measureServerCpu(contender.porthole, PATH, WRK_SECONDS);
  await exportsSettled(receiver);
  return sample;
}

const receiver = await startOtlpReceiver();
const contenders: Contender[] = [
  { title: 'tracing off', config: '', samples: [] },
  { title: 'tracing off, a second process (noise floor)', config: '', samples: [] },
  { title: 'tracing on, samplingProb 0', config: tracingAt(0, receiver.url), target: { percent: 3 }, samples: [] },
  { title: 'tracing on, samplingProb 0.1', config: tracingAt(0.1, receiver.url), samples: [] },
  { title: 'tracing on, samplingProb 1.0, every span exported', config: tracingAt(1, receiver.url), target: { percent: 25 }, samples: [] },
];
try {
  for (const contender of contenders) {
    contender.porthole = await startQuietPorthole(contender.config);
    await makeImage(contender.porthole.url, 'bench/app', { tag: 'v1' });
  }
  // Warm each (JIT, manifest cache) before measuring.
  for (const contender of contenders) await measure(contender, receiver);
  // Each round starts with another contender: the place in a round is worth several percent here
  // (the first run after a pause is the fastest), which must fall on every contender alike.
  for (let round = 0; round < ROUNDS; round += 1) {
    for (let turn = 0; turn < contenders.length; turn += 1) {
      const contender = contenders[(round + turn) % contenders.length] as Contender;
      contender.samples.push(await measure(contender, receiver));
    }
  }
} finally {
  await Promise.all(contenders.map((contender) => contender.porthole?.dispose()));
  await receiver.close();
}

const off = medianSample(contenders[0]?.samples ?? []);
console.log('| figure | req/s | server CPU per request | over tracing off | target | result |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const contender of contenders) {
  const sample = medianSample(contender.samples);
  const over = (sample.cpuMicros / off.cpuMicros - 1) * 100;
  const target = contender.target ? `≤ ${contender.target.percent}%` : '';
  const result = contender.target ? (over <= contender.target.percent ? 'pass' : '**FAIL**') : '';
  const shown = contender === contenders[0] ? '' : `${over >= 0 ? '+' : ''}${over.toFixed(1)}%`;
  console.log(`| GET manifest by tag, ${contender.title} | ${sample.requestsPerSecond.toFixed(0)} | ${sample.cpuMicros.toFixed(1)} µs | ${shown} | ${target} | ${result} |`);
}
console.log(`\nspans received by the stand-in collector: ${receiver.spans().length}`);
