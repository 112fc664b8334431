import { performance } from 'node:perf_hooks';
import { cleanUp, type CleanupReport } from './cleanup.js';
import { ContentLedger } from './content-ledger.js';
import { reasonOf, runClients, type Operation } from './operations.js';
import type { ProgressLine } from './progress.js';
import { Recorder } from './recorder.js';
import type { RegistrySession } from './registry-session.js';
import { resultFromRecorder, resultWithoutRun, type TestResult } from './results.js';
import type { TestData } from './test-data.js';
import { SkipTest, slug, type BenchTest, type TestContext } from './test-plan.js';
import { measureInThreads, TEST_CATALOG_MODULE } from './threads.js';

export interface RunSettings {
  requests: number;
  concurrency: number;
  /** Worker threads the clients are spread over (--threads); 1 runs them all on the main thread. */
  threads: number;
  skipCleanup: boolean;
  /** --repo: every test works in a repository of its own below it. */
  baseRepo: string;
  upstream: RegistrySession | undefined;
  upstreamNamespace: string;
  data: TestData;
  progress: ProgressLine;
  /** The module whose `TESTS` holds the test, for worker threads to build its plan (default the catalog). */
  testModule?: string;
}

/** The clients of a test: -c, but no more than there are operations. */
export function clientCount(concurrency: number, requests: number): number {
  return Math.max(1, Math.min(concurrency, requests));
}

/**
 * Runs one test against one registry: setup (not measured), then -n operations by -c clients
 * taking the next one as they finish (spread over worker threads with --threads), each timed from
 * its first request to its last; a failed operation is counted and the clients go on. Then the
 * test's content is deleted (unless --skip-cleanup), from the target and from the upstream.
 */
export async function runTest(test: BenchTest, target: RegistrySession, settings: RunSettings): Promise<TestResult> {
  const data = settings.data.tracking();
  const context: TestContext = {
    target,
    upstream: settings.upstream,
    upstreamNamespace: settings.upstreamNamespace,
    data,
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
    const clients = clientCount(settings.concurrency, settings.requests);
    const threads = Math.min(settings.threads, clients);
    if (threads > 1) {
      const shared = await Promise.all([...data.sizes].map(async (size) => (await settings.data.blob(size)).share()));
      result = await measureInThreads({
        name: test.name,
        testModule: settings.testModule ?? TEST_CATALOG_MODULE,
        context,
        planState: plan.handoff?.(),
        data: shared,
        clients,
        threads,
        progress: settings.progress,
        mix: plan.mix,
      });
    } else {
      result = await measure(test.name, target.url, plan.operation.bind(plan), settings, plan.mix);
    }
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

/** The measured operations on the main thread (--threads 1). */
async function measure(name: string, registry: string, operation: Operation, settings: RunSettings, mix: Record<string, number> | undefined): Promise<TestResult> {
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
  try {
    await runClients(
      clientCount(settings.concurrency, total),
      () => (next < total ? next++ : undefined),
      operation,
      recorder,
      () => {
        done += 1;
      },
    );
  } finally {
    settings.progress.stop();
  }
  return resultFromRecorder(name, registry, total, performance.now() - started, recorder, mix);
}
