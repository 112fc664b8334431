import type { CleanupReport } from './cleanup.js';
import { summarize, type LatencySummary } from './percentiles.js';
import { TTFB_KINDS, type Recorder, type TtfbKind } from './recorder.js';

export type TestOutcome = 'completed' | 'skipped' | 'setup failed';

/** One test's figures against one registry; times in milliseconds, rates per second. */
export interface TestResult {
  name: string;
  registry: string;
  outcome: TestOutcome;
  /** Why it was skipped, or why its setup failed. */
  reason?: string;
  /** Operations asked for (-n), done without failure, failed (timeouts included) and timed out. */
  requests: number;
  completed: number;
  failed: number;
  timeouts: number;
  /** Failures by what went wrong. */
  errors: Record<string, number>;
  /** Every HTTP answer of the measured operations, by status code. */
  statusCodes: Record<string, number>;
  httpRequests: number;
  durationMs: number;
  requestsPerSecond: number;
  bytesSent: number;
  bytesReceived: number;
  bytesPerSecond: number;
  /** Latency of the successful operations; null when none succeeded. */
  latencyMs: LatencySummary | null;
  /** For pulls: time to the first byte of each kind of request. */
  ttfbMs?: Record<TtfbKind, LatencySummary | null>;
  /** For mixed tests: operations by class. */
  mix?: Record<string, number>;
  cleanup?: CleanupReport[];
}

export function resultFromRecorder(name: string, registry: string, requests: number, durationMs: number, recorder: Recorder, mix?: Record<string, number>): TestResult {
  const seconds = durationMs / 1000;
  const bytes = recorder.bytesSent + recorder.bytesReceived;
  const pulls = TTFB_KINDS.some((kind) => recorder.ttfbMs[kind].length > 0);
  const failed = recorder.failures + recorder.timeouts;
  return {
    name,
    registry,
    outcome: 'completed',
    requests,
    completed: requests - failed,
    failed,
    timeouts: recorder.timeouts,
    errors: Object.fromEntries(recorder.errors),
    statusCodes: Object.fromEntries([...recorder.statusCodes].sort(([a], [b]) => a - b).map(([code, count]) => [String(code), count])),
    httpRequests: recorder.httpRequests,
    durationMs: round(durationMs),
    requestsPerSecond: seconds > 0 ? round((requests - failed) / seconds) : 0,
    bytesSent: recorder.bytesSent,
    bytesReceived: recorder.bytesReceived,
    bytesPerSecond: seconds > 0 ? Math.round(bytes / seconds) : 0,
    latencyMs: summarize(recorder.latenciesMs) ?? null,
    ...(pulls ? { ttfbMs: Object.fromEntries(TTFB_KINDS.map((kind) => [kind, summarize(recorder.ttfbMs[kind]) ?? null])) as Record<TtfbKind, LatencySummary | null> } : {}),
    ...(mix === undefined ? {} : { mix }),
  };
}

/** A test that measured nothing: skipped, or its setup failed (then every request counts as failed). */
export function resultWithoutRun(name: string, registry: string, requests: number, outcome: Exclude<TestOutcome, 'completed'>, reason: string): TestResult {
  const failed = outcome === 'setup failed' ? requests : 0;
  return {
    name,
    registry,
    outcome,
    reason,
    requests,
    completed: 0,
    failed,
    timeouts: 0,
    errors: outcome === 'setup failed' ? { [`setup: ${reason}`]: requests } : {},
    statusCodes: {},
    httpRequests: 0,
    durationMs: 0,
    requestsPerSecond: 0,
    bytesSent: 0,
    bytesReceived: 0,
    bytesPerSecond: 0,
    latencyMs: null,
  };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
