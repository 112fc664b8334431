import assert from 'node:assert/strict';
import { LATENCY_FIGURES, type LatencySummary } from '../../src/loadgen/percentiles.js';
import { TTFB_KINDS } from '../../src/loadgen/recorder.js';
import type { TestResult } from '../../src/loadgen/results.js';

export function assertSummary(summary: LatencySummary | null | undefined, count: number, what: string): void {
  assert.ok(summary, `${what}: no figures`);
  for (const figure of LATENCY_FIGURES) assert.ok(Number.isFinite(summary[figure]) && summary[figure] > 0, `${what}: ${figure} is ${summary[figure]}`);
  const ordered = LATENCY_FIGURES.map((figure) => summary[figure]);
  assert.deepEqual([...ordered].sort((a, b) => a - b), ordered, `${what}: figures out of order ${JSON.stringify(summary)}`);
  assert.equal(summary.count, count, `${what}: count`);
  assert.ok(summary.sum >= summary.max, `${what}: sum`);
}

/** How many pulls a test's operations made (every one for Pull tests, the mix's for the 75/25 ones). */
function pullsOf(test: TestResult): number {
  if (test.name.startsWith('Pull 75%')) return test.mix?.Pull ?? 0;
  if (test.name.startsWith('Pull') || test.name.startsWith('On-demand Sync')) return test.completed;
  return 0;
}

/** Every figure a completed test must report, with -n `requests` and no failure. */
export function assertCompleteFigures(test: TestResult, requests: number): void {
  const what = `${test.name} (${test.registry})`;
  assert.equal(test.outcome, 'completed', `${what}: ${test.reason}`);
  assert.equal(test.requests, requests, what);
  assert.equal(test.failed, 0, `${what}: ${JSON.stringify(test.errors)}`);
  assert.equal(test.completed, requests, what);
  assert.equal(test.timeouts, 0, what);
  assert.ok(test.httpRequests >= requests, `${what}: ${test.httpRequests} HTTP requests`);
  const answers = Object.values(test.statusCodes).reduce((sum, count) => sum + count, 0);
  assert.equal(answers, test.httpRequests, `${what}: status counts ${JSON.stringify(test.statusCodes)}`);
  for (const code of Object.keys(test.statusCodes)) assert.match(code, /^2\d\d$/, `${what}: status ${code}`);
  assert.ok(test.durationMs > 0 && test.requestsPerSecond > 0, `${what}: duration ${test.durationMs}, rate ${test.requestsPerSecond}`);
  if (test.name !== 'Head Manifest') assert.ok(test.bytesPerSecond > 0 && test.bytesSent + test.bytesReceived > 0, `${what}: bytes`);
  assertSummary(test.latencyMs, requests, `${what} latency`);
  const pulls = pullsOf(test);
  if (pulls > 0) {
    assert.ok(test.ttfbMs, `${what}: no time to first byte`);
    for (const kind of TTFB_KINDS) assertSummary(test.ttfbMs[kind], pulls, `${what} ${kind} TTFB`);
  }
  if (/Mixed/.test(test.name)) {
    assert.ok(test.mix, `${what}: no mix`);
    assert.equal(Object.values(test.mix).reduce((sum, count) => sum + count, 0), requests, `${what}: mix ${JSON.stringify(test.mix)}`);
  }
  if (/^Push (Monolith|Chunk)/.test(test.name)) assert.ok(test.bytesSent >= requests * 1024 * 1024, `${what}: ${test.bytesSent} bytes sent`);
}

/** Cleanup ran and deleted everything it was asked to, refusing nothing. */
export function assertCleanedUp(test: TestResult): void {
  const what = `${test.name} (${test.registry})`;
  assert.ok(test.cleanup && test.cleanup.length > 0, `${what}: no cleanup report`);
  for (const report of test.cleanup) {
    assert.equal(report.failed, 0, `${what}: cleanup of ${report.registry}: ${report.errors.join('; ')}`);
    assert.deepEqual(report.refused, {}, `${what}: cleanup of ${report.registry} refused`);
    assert.ok(report.manifestsDeleted > 0 && report.blobsDeleted > 0, `${what}: cleanup deleted nothing`);
  }
}
