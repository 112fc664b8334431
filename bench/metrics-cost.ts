/**
 * The cost of metrics (issue: Prometheus metrics), measured on this machine in one run:
 *  1. GET manifest by tag with full-mode metrics on, versus off (minimal mode, never scraped),
 *     wrk -t2 -c32, alternating porthole processes, medians of the pairs; target: under 3%.
 *     The cost is taken from the server's CPU time per request, which is steady; throughput
 *     swings by ±10% between runs on a 2-core machine shared with wrk, and is reported too.
 *  2. GET /metrics render time with 10,000 repositories (pushed through the API, each manifest
 *     pulled once so every per-repo metric has its labels); target: under 50 ms.
 * Run: npm run build && node dist/bench/metrics-cost.js [--quick]. Prints a Markdown table.
 */
import { performance } from 'node:perf_hooks';
import type { PortholeProcess } from '../test/helpers/porthole-process.js';
import { raw } from '../test/helpers/raw-http.js';
import { makeImage } from '../test/helpers/registry-client.js';
import { startQuietPorthole } from './lib/quiet-porthole.js';
import { measureServerCpu, measuredPorthole, medianSample, STEADY_NODE_ARGS, type CpuSample } from './lib/server-cpu.js';
import { alternate, median, percentile } from './lib/stats.js';

const quick = process.argv.includes('--quick');
const PAIRS = quick ? 1 : 5;
const WRK_SECONDS = quick ? 2 : 8;
const REPOSITORIES = quick ? 200 : 10_000;
const FULL = 'extensions:\n  metrics: {}\n';
/** For the render figure: gauges recomputed soon after the repositories are pushed. */
const FULL_FAST_GAUGES = 'extensions:\n  metrics:\n    reportingInterval: 2s\n';

function measure(porthole: PortholeProcess): Promise<CpuSample> {
  return measureServerCpu(measuredPorthole(porthole), '/v2/bench/app/manifests/v1', WRK_SECONDS);
}

interface Cost {
  on: CpuSample;
  off: CpuSample;
}

async function metricsCost(): Promise<Cost> {
  const on = await startQuietPorthole(FULL, { nodeArgs: STEADY_NODE_ARGS });
  const off = await startQuietPorthole('', { nodeArgs: STEADY_NODE_ARGS });
  try {
    for (const p of [on, off]) await makeImage(p.url, 'bench/app', { tag: 'v1' });
    // Warm both (JIT, manifest cache) before measuring.
    await measure(on);
    await measure(off);
    const samples = await alternate(PAIRS, () => measure(on), () => measure(off));
    return { on: medianSample(samples.a), off: medianSample(samples.b) };
  } finally {
    await Promise.all([on.dispose(), off.dispose()]);
  }
}

/** Pushes REPOSITORIES small images with bounded concurrency, and pulls each manifest once. */
async function populate(porthole: PortholeProcess): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < REPOSITORIES) {
      const repo = `bench/repo${next++}`;
      await makeImage(porthole.url, repo, { tag: 'v1' });
      await raw(porthole.url, { path: `/v2/${repo}/manifests/v1`, headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

async function renderTime(): Promise<{ median: number; p90: number; bytes: number; scanSeconds: number }> {
  const porthole = await startQuietPorthole(FULL_FAST_GAUGES);
  try {
    await populate(porthole);
    // Let a storage scan with every repository complete, then time scrapes.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const times: number[] = [];
    let bytes = 0;
    let scanSeconds = 0;
    for (let i = 0; i < 30; i += 1) {
      const started = performance.now();
      const response = await raw(porthole.url, { path: '/metrics' });
      times.push(performance.now() - started);
      bytes = response.body.length;
      const scan = /^porthole_storage_scan_duration_seconds ([\d.e-]+)$/m.exec(response.body.toString());
      if (scan) scanSeconds = Number(scan[1]);
    }
    return { median: median(times.slice(5)), p90: percentile(times.slice(5), 90), bytes, scanSeconds };
  } finally {
    await porthole.dispose();
  }
}

const cost = await metricsCost();
const render = await renderTime();
const overhead = (cost.on.cpuMicros / cost.off.cpuMicros - 1) * 100;
console.log(`| figure | measured | target |`);
console.log(`| --- | --- | --- |`);
console.log(`| GET manifest by tag, metrics off (minimal, unscraped): req/s, server CPU per request | ${cost.off.requestsPerSecond.toFixed(0)}, ${cost.off.cpuMicros.toFixed(1)} µs | |`);
console.log(`| GET manifest by tag, full-mode metrics on: req/s, server CPU per request | ${cost.on.requestsPerSecond.toFixed(0)}, ${cost.on.cpuMicros.toFixed(1)} µs | |`);
console.log(`| cost of metrics (server CPU per request) | ${overhead.toFixed(1)}% | < 3% |`);
console.log(`| GET /metrics with ${REPOSITORIES} repositories, median / p90 | ${render.median.toFixed(1)} ms / ${render.p90.toFixed(1)} ms | < 50 ms |`);
console.log(`| /metrics size | ${(render.bytes / 1024).toFixed(0)} KiB | |`);
console.log(`| storage scan for the gauges (${REPOSITORIES} repositories, every reportingInterval) | ${(render.scanSeconds * 1000).toFixed(0)} ms | |`);
