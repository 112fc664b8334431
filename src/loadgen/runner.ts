import { performance } from 'node:perf_hooks';
import { cleanUp, type CleanupReport } from './cleanup.js';
import { ContentLedger } from './content-ledger.js';
import type { ProgressLine } from './progress.js';
import { Recorder } from './recorder.js';
import { OperationError, type RegistrySession } from './registry-session.js';
import { resultFromRecorder, resultWithoutRun, type TestResult } from './results.js';
import type { TestData } from './test-data.js';
import { SkipTest, slug, type BenchTest, type TestContext } from './test-plan.js';

export interface RunSettings {
  requests: number;
  concurrency: number;
  skipCleanup: boolean;
  /** --repo: every test works in a repository of its own below it. */
  baseRepo: string;
  upstream: RegistrySession | undefined;
  upstreamNamespace: string;
  data: TestData;
  progress: ProgressLine;
}

/** What failed an operation, as counted in the report: the request and the reason. */
function reasonOf(err: unknown): { reason: string; timeout: boolean } {
  if (err instanceof OperationError) return { reason: err.message, timeout: err.timeout };
  return { reason: err instanceof Error ? err.message : String(err), timeout: false };
}

/**
 * Runs one test against one registry: setup (not measured), then -n operations by -c clients
 * taking the next one as they finish, each timed from its first request to its last; a failed
 * operation is counted and the clients go on. Then the test's content is deleted (unless
 * --skip-cleanup), from the target and from the upstream.
 */
export async function runTest(test: BenchTest, target: RegistrySession, settings: RunSettings): Promise<TestResult> {
  const context: TestContext = {
    target,
    upstream: settings.upstream,
    upstreamNamespace: settings.upstreamNamespace,
    data: settings.data,
    repo: `${settings.baseRepo}/${slug(test.name)}`,
    requests: settings.requests,
    concurrency: settings.concurrency,
    ledger: new ContentLedger(),
    upstreamLedger: new ContentLedger(),
    setupRecorder: new Recorder(),
  };
  const plan = test.plan(context);
  let result: TestResult;
  try {
    await plan.setup();
    result = await measure(test.name, target.url, plan.operation.bind(plan), settings, plan.mix);
  } catch (err) {
    const reason = reasonOf(err).reason;
    result = resultWithoutRun(test.name, target.url, settings.requests, err instanceof SkipTest ? 'skipped' : 'setup failed', reason);
  }
  if (!settings.skipCleanup) {
    const reports: CleanupReport[] = [];
    if (!context.ledger.empty) reports.push(await cleanUp(target, context.ledger, settings.concurrency));
    if (settings.upstream && !context.upstreamLedger.empty) reports.push(await cleanUp(settings.upstream, context.upstreamLedger, settings.concurrency));
    if (reports.length > 0) result.cleanup = reports;
  }
  return result;
}

async function measure(
  name: string,
  registry: string,
  operation: (index: number, recorder: Recorder) => Promise<void>,
  settings: RunSettings,
  mix: Record<string, number> | undefined,
): Promise<TestResult> {
  const recorder = new Recorder();
  const total = settings.requests;
  let next = 0;
  let done = 0;
  const started = performance.now();
  settings.progress.start(() => {
    const seconds = (performance.now() - started) / 1000;
    const failed = recorder.failures + recorder.timeouts;
    return `${name}: ${done}/${total} requests, ${failed} failed, ${seconds > 0 ? ((done - failed) / seconds).toFixed(1) : '0'} req/s`;
  });
  const client = async (): Promise<void> => {
    while (next < total) {
      const index = next++;
      const begun = performance.now();
      try {
        await operation(index, recorder);
        recorder.succeeded(performance.now() - begun);
      } catch (err) {
        const { reason, timeout } = reasonOf(err);
        recorder.failed(reason, timeout);
      }
      done += 1;
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(settings.concurrency, total)) }, client));
  } finally {
    settings.progress.stop();
  }
  return resultFromRecorder(name, registry, total, performance.now() - started, recorder, mix);
}
