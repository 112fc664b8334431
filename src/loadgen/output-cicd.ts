import { LATENCY_FIGURES } from './percentiles.js';
import { TTFB_KINDS } from './recorder.js';
import type { BenchReport } from './report.js';

/** One entry of the list benchmark-tracking actions read (github-action-benchmark's custom tools). */
export interface CicdEntry {
  name: string;
  unit: string;
  value: number;
}

/**
 * The ci-cd output: zb's list of {name, unit, value}, its first entry per test being zb's own
 * (the test's name, "requests per sec"), so that a history kept from zb goes on. The other figures
 * follow as entries named "<test> - <figure>"; latencies are in ms (smaller is better). Against
 * URL2 of --compare the names end with " @ <URL2>", and the ratios are entries of unit "ratio".
 */
export function cicdEntries(report: BenchReport): CicdEntry[] {
  const entries: CicdEntry[] = [];
  report.runs.forEach((run, index) => {
    const suffix = index === 0 ? '' : ` @ ${run.registry}`;
    for (const test of run.tests) {
      if (test.outcome !== 'completed') continue;
      const name = `${test.name}${suffix}`;
      entries.push({ name, unit: 'requests per sec', value: test.requestsPerSecond });
      entries.push({ name: `${name} - bytes per sec`, unit: 'bytes per sec', value: test.bytesPerSecond });
      entries.push({ name: `${name} - failed requests`, unit: 'requests', value: test.failed });
      if (test.latencyMs) for (const figure of LATENCY_FIGURES) entries.push({ name: `${name} - latency ${figure}`, unit: 'ms', value: test.latencyMs[figure] });
      for (const kind of test.ttfbMs ? TTFB_KINDS : []) {
        const summary = test.ttfbMs?.[kind];
        if (summary) for (const figure of ['p50', 'p75', 'p90', 'p99'] as const) entries.push({ name: `${name} - ${kind} TTFB ${figure}`, unit: 'ms', value: summary[figure] });
      }
    }
  });
  for (const entry of report.comparison ?? []) {
    if (entry.requestsPerSecond !== null) entries.push({ name: `${entry.name} - requests per sec ratio`, unit: 'ratio', value: entry.requestsPerSecond });
    if (entry.p50LatencyMs !== null) entries.push({ name: `${entry.name} - latency p50 ratio`, unit: 'ratio', value: entry.p50LatencyMs });
  }
  return entries;
}
