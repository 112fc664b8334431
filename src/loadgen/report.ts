import type { TestResult } from './results.js';

/** One registry's results (URL, or URL2 of --compare). */
export interface RegistryRun {
  registry: string;
  tests: TestResult[];
}

/** --compare: URL's figure over URL2's, per test (null when either has none). */
export interface Comparison {
  name: string;
  registries: [string, string];
  requestsPerSecond: number | null;
  bytesPerSecond: number | null;
  p50LatencyMs: number | null;
  p99LatencyMs: number | null;
}

/** Everything a run measured: what every output format is written from. */
export interface BenchReport {
  tool: 'porthole-bench';
  version: string;
  startedAt: string;
  finishedAt: string;
  settings: {
    concurrency: number;
    requests: number;
    repo: string;
    upstream: string | null;
    workingDir: string;
    timeoutMs: number;
    maxTimeoutFailures: number;
    skipCleanup: boolean;
  };
  runs: RegistryRun[];
  comparison?: Comparison[];
  /** Operations that failed other than by a timeout, and timeouts, over every test and registry. */
  failures: number;
  timeouts: number;
  exitCode: number;
}

function ratio(a: number | undefined, b: number | undefined): number | null {
  if (a === undefined || b === undefined || !(a > 0) || !(b > 0)) return null;
  return Math.round((a / b) * 1000) / 1000;
}

export function compareRuns(first: RegistryRun, second: RegistryRun): Comparison[] {
  return first.tests.map((a) => {
    const b = second.tests.find((test) => test.name === a.name);
    return {
      name: a.name,
      registries: [first.registry, second.registry],
      requestsPerSecond: ratio(a.requestsPerSecond, b?.requestsPerSecond),
      bytesPerSecond: ratio(a.bytesPerSecond, b?.bytesPerSecond),
      p50LatencyMs: ratio(a.latencyMs?.p50, b?.latencyMs?.p50 ?? undefined),
      p99LatencyMs: ratio(a.latencyMs?.p99, b?.latencyMs?.p99 ?? undefined),
    };
  });
}

/** The failures the exit code counts: any that is not a timeout, and timeouts beyond --max-timeout-failures. */
export function exitCodeOf(runs: readonly RegistryRun[], maxTimeoutFailures: number): { failures: number; timeouts: number; exitCode: number } {
  let failures = 0;
  let timeouts = 0;
  for (const run of runs) {
    for (const test of run.tests) {
      failures += test.failed - test.timeouts;
      timeouts += test.timeouts;
    }
  }
  return { failures, timeouts, exitCode: failures > 0 || timeouts > maxTimeoutFailures ? 1 : 0 };
}
