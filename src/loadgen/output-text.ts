import { describeCleanup } from './cleanup.js';
import { LATENCY_FIGURES, type LatencySummary } from './percentiles.js';
import { TTFB_KINDS, type TtfbKind } from './recorder.js';
import type { BenchReport } from './report.js';
import type { TestResult } from './results.js';
import { humanBytes } from './sizes.js';

const TTFB_TITLE: Record<TtfbKind, string> = { manifestHead: 'Manifest HEAD TTFB', manifestGet: 'Manifest GET TTFB', config: 'Config TTFB', layer: 'Layer TTFB' };

export function ms(value: number): string {
  if (value >= 1000) return `${(value / 1000).toFixed(3)} s`;
  if (value >= 10) return `${value.toFixed(1)} ms`;
  return `${value.toFixed(3)} ms`;
}

function latencyLine(summary: LatencySummary | null, figures: ReadonlyArray<keyof LatencySummary> = LATENCY_FIGURES): string {
  if (summary === null) return 'none (no request succeeded)';
  return figures.map((figure) => `${figure} ${ms(summary[figure])}`).join('   ');
}

function row(label: string, value: string | number): string {
  return `${`${label}:`.padEnd(24)}${value}`;
}

/** One test's figures, in the shape of zb's report. */
export function describeTest(result: TestResult): string {
  const lines = ['============', row('Test name', result.name), row('Registry', result.registry)];
  if (result.outcome !== 'completed') {
    lines.push(row(result.outcome === 'skipped' ? 'Skipped' : 'Setup failed', result.reason ?? ''));
  } else {
    lines.push(
      row('Time taken for tests', ms(result.durationMs)),
      row('Complete requests', result.completed),
      row('Failed requests', `${result.failed}${result.timeouts > 0 ? ` (${result.timeouts} timed out)` : ''}`),
      row('Requests per second', result.requestsPerSecond.toFixed(2)),
      row('Bytes per second', `${humanBytes(result.bytesPerSecond)}/s (sent ${humanBytes(result.bytesSent)}, received ${humanBytes(result.bytesReceived)})`),
      row('HTTP requests', result.httpRequests),
    );
    for (const [code, count] of Object.entries(result.statusCodes)) lines.push(row(`${code} responses`, count));
    if (result.mix) lines.push(row('Mix', Object.entries(result.mix).map(([label, count]) => `${label}: ${count}`).join(', ')));
    for (const [reason, count] of Object.entries(result.errors)) lines.push(row('Error', `${count} x ${reason}`));
    lines.push('', `latency   ${latencyLine(result.latencyMs)}`);
    if (result.ttfbMs) {
      for (const kind of TTFB_KINDS) lines.push(`${TTFB_TITLE[kind]}: ${latencyLine(result.ttfbMs[kind], ['p50', 'p75', 'p90', 'p99'])}`);
    }
  }
  for (const cleanup of result.cleanup ?? []) lines.push(row('Cleanup', `${cleanup.registry}: ${describeCleanup(cleanup)}`));
  return lines.join('\n');
}

/** The end of the report, after each test's block: a summary table (and the ratios of --compare). */
export function summaryText(report: BenchReport): string {
  const parts: string[] = ['============', 'Summary'];
  for (const run of report.runs) {
    parts.push(`${run.registry}`);
    for (const test of run.tests) {
      const figure = test.outcome === 'completed' ? `${test.requestsPerSecond.toFixed(2)} req/s, ${humanBytes(test.bytesPerSecond)}/s, p50 ${test.latencyMs ? ms(test.latencyMs.p50) : '-'}, ${test.failed} failed` : test.outcome;
      parts.push(`  ${test.name.padEnd(52)} ${figure}`);
    }
  }
  if (report.comparison) {
    const [a, b] = report.comparison[0]?.registries ?? ['URL', 'URL2'];
    parts.push('', `Ratios ${a} / ${b} (req/s, bytes/s, p50 latency, p99 latency)`);
    const shown = (value: number | null): string => (value === null ? '-' : value.toFixed(2));
    for (const entry of report.comparison) {
      parts.push(`  ${entry.name.padEnd(52)} ${shown(entry.requestsPerSecond)}  ${shown(entry.bytesPerSecond)}  ${shown(entry.p50LatencyMs)}  ${shown(entry.p99LatencyMs)}`);
    }
  }
  parts.push('', `Failures: ${report.failures}, timeouts: ${report.timeouts} (allowed ${report.settings.maxTimeoutFailures}); exit code ${report.exitCode}`);
  return parts.join('\n') + '\n';
}
