/**
 * porthole-bench's clients spread over worker threads (--threads): the merged figures are those of
 * the same run on one thread (every operation done once, the bytes of every pull and push, the
 * status counts), what the threads pushed is cleaned up, a registry killed under the threads gives
 * counted failures, a report and exit 1 without a hang, and a worker thread that dies counts its
 * operations as failures instead of hanging the run.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ContentLedger } from '../../src/loadgen/content-ledger.js';
import { ProgressLine } from '../../src/loadgen/progress.js';
import { Recorder } from '../../src/loadgen/recorder.js';
import { RegistrySession } from '../../src/loadgen/registry-session.js';
import type { TestResult } from '../../src/loadgen/results.js';
import { runTest } from '../../src/loadgen/runner.js';
import { SUFFIX_BYTES, TestData } from '../../src/loadgen/test-data.js';
import type { BenchTest } from '../../src/loadgen/test-plan.js';
import { startDistribution } from '../helpers/distribution-process.js';
import { cleanup, startPorthole, tempDir } from '../helpers/porthole-process.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { failuresOf, parseReport, runBenchCli, runKillingRegistryMidway } from './bench-cli.js';
import { TESTS as CRASHING } from './crashing-tests.js';
import { tagsUnder } from './registry-content.js';
import { assertCleanedUp, assertCompleteFigures } from './report-checks.js';

const MIB = 1024 * 1024;
const SELECTED = '^(Push Monolith 1MB|Pull 1MB|Pull Mixed .*|Pull 75% and Push 25% Mixed 1MB|Get Manifest|Get Referrers)$';

describe('porthole-bench with worker threads', () => {
  let work: string;
  before(async () => {
    work = await tempDir('bench-tool-threads');
  });
  after(() => cleanup(work));

  test('-c 4 -n 8 --threads 2 against porthole: the figures of a one-thread run, merged; cleaned up', { timeout: 240_000 }, async () => {
    const root = await tempDir('bench-tool-threads-porthole');
    const porthole = await startPorthole({ root });
    try {
      const bench = async (threads: number, repo: string) => {
        const run = await runBenchCli([porthole.url, '-c', '4', '-n', '8', '--threads', String(threads), '-t', SELECTED, '-o', 'json', '-r', repo, '-d', join(work, 'data')], { timeoutMs: 150_000 });
        const report = parseReport(run);
        const tests = report.runs[0]?.tests ?? [];
        assert.equal(run.code, 0, `exit ${run.code}:\n${failuresOf(tests)}\n${run.stderr.slice(-2000)}`);
        return { run, byName: new Map(tests.map((each) => [each.name, each])) };
      };
      const threaded = await bench(2, 'bench/t2');
      assert.match(threaded.run.stderr, /Threads: +2 worker threads \(4 clients spread over them\)/);
      assert.equal(threaded.byName.size, 6);
      for (const each of threaded.byName.values()) {
        assertCompleteFigures(each, 8);
        assertCleanedUp(each);
      }
      assert.deepEqual(Object.entries(await tagsUnder(porthole.url, 'bench/t2')).filter(([, list]) => list.length > 0), []);
      // Every pull moved its layer whole: 8 of 1 MiB and its suffix, plus the manifests and configs.
      const pull = threaded.byName.get('Pull 1MB') as TestResult;
      const layer = MIB + SUFFIX_BYTES;
      assert.ok(pull.bytesReceived > 8 * layer && pull.bytesReceived < 8 * (layer + 8192), `Pull 1MB received ${pull.bytesReceived}`);
      assert.deepEqual(pull.statusCodes, { '200': 32 });
      const push = threaded.byName.get('Push Monolith 1MB') as TestResult;
      assert.ok(push.bytesSent > 8 * layer && push.bytesSent < 8 * (layer + 8192), `Push Monolith 1MB sent ${push.bytesSent}`);

      const single = await bench(1, 'bench/t1');
      assert.match(single.run.stderr, /Threads: +1 \(every client on the main thread\)/);
      for (const [name, one] of single.byName) {
        const two = threaded.byName.get(name) as TestResult;
        assertCompleteFigures(one, 8);
        const same = (result: TestResult) => ({
          completed: result.completed,
          httpRequests: result.httpRequests,
          statusCodes: result.statusCodes,
          bytesSent: result.bytesSent,
          bytesReceived: result.bytesReceived,
          mix: result.mix,
          latencies: result.latencyMs?.count,
          ttfb: result.ttfbMs && Object.values(result.ttfbMs).map((summary) => summary?.count),
          cleanup: result.cleanup?.map((report) => [report.manifestsDeleted, report.blobsDeleted]),
        });
        assert.deepEqual(same(two), same(one), name);
      }
    } finally {
      await porthole.stop();
      await cleanup(root);
    }
  });

  test('a registry killed in the middle of a threaded run: failures counted, the report printed, exit 1, no hang', { skip: skipUnlessTools('docker-registry'), timeout: 90_000 }, async () => {
    const registry = await startDistribution();
    try {
      // Once Get Catalog has ended, Push Monolith 10MB's 80 pushes are under way: the registry is killed then.
      const { run, killed } = await runKillingRegistryMidway([registry.url, '-c', '4', '--threads', '2', '-n', '80', '-o', 'json', '-d', join(work, 'data'), '--timeout', '5s', '-t', '^(Get Catalog|Push Monolith 10MB|Pull 1MB)$'], registry, 60_000);
      assert.ok(killed, run.stderr);
      assert.equal(run.code, 1, run.stderr);
      const report = parseReport(run);
      assert.equal(report.exitCode, 1);
      const byName = new Map(report.runs[0]?.tests.map((result) => [result.name, result]));
      assert.equal(byName.get('Get Catalog')?.failed, 0);
      const push = byName.get('Push Monolith 10MB');
      assert.equal(push?.outcome, 'completed');
      assert.ok((push?.failed ?? 0) > 0, `push: ${JSON.stringify(push?.errors)}`);
      assert.equal((push?.completed ?? 0) + (push?.failed ?? 0), 80);
      assert.equal(push?.latencyMs?.count ?? 0, push?.completed);
      assert.ok(Object.keys(push?.errors ?? {}).every((reason) => /ECONNREFUSED|ECONNRESET|closed|EPIPE|socket/i.test(reason)), JSON.stringify(push?.errors));
      // What the threads pushed before the kill reached the main thread's ledger: its cleanup tried to delete it.
      assert.ok((push?.cleanup?.[0]?.failed ?? 0) > 0, JSON.stringify(push?.cleanup));
      const pull = byName.get('Pull 1MB');
      assert.equal(pull?.outcome, 'setup failed');
      assert.equal(pull?.failed, 80);
      assert.match(run.stderr, /Failures: \d+, timeouts: \d+ \(allowed 0\); exit code 1/);
    } finally {
      await registry.dispose();
    }
  });

  test('a worker thread that dies: its operations count as failures, the others finish, no hang', { timeout: 30_000 }, async () => {
    // The operations make no request: the session is there for the threads to copy.
    const session = new RegistrySession({ url: 'http://127.0.0.1:9', credentials: undefined, timeoutMs: 5_000, connections: 2, tls: { rejectUnauthorized: true }, userAgent: 'threads-test' });
    const module = new URL('./crashing-tests.js', import.meta.url).href;
    const settings = {
      requests: 40,
      concurrency: 4,
      threads: 2,
      skipCleanup: false,
      baseRepo: 'crash',
      upstream: undefined,
      upstreamNamespace: '',
      data: new TestData(join(work, 'crash-data'), () => undefined),
      progress: new ProgressLine(process.stderr),
      testModule: module,
    };
    try {
      for (const [test, reason] of [
        [CRASHING[0] as BenchTest, /worker thread [12] exited with code 7/],
        [CRASHING[1] as BenchTest, /worker thread [12] Error: the worker thread broke/],
      ] as const) {
        const result = await runTest(test, session, settings);
        assert.equal(result.outcome, 'completed', test.name);
        assert.equal(result.requests, 40);
        assert.ok(result.failed >= 1, `${test.name}: ${JSON.stringify(result)}`);
        // The other thread went on with the rest: every operation ended, done or counted as failed.
        assert.equal(result.completed + result.failed, 40, test.name);
        assert.equal(result.latencyMs?.count ?? 0, result.completed, test.name);
        assert.ok(result.completed >= 20, `${test.name}: only ${result.completed} done`);
        const reasons = Object.keys(result.errors);
        assert.equal(reasons.length, 1, JSON.stringify(result.errors));
        assert.match(reasons[0] as string, reason);
      }
      // A test its threads cannot find: every operation failed, at once.
      const unknown: BenchTest = { ...(CRASHING[0] as BenchTest), name: 'Not There' };
      const result = await runTest(unknown, session, settings);
      assert.equal(result.failed, 40);
      assert.match(Object.keys(result.errors)[0] ?? '', /no test "Not There"/);
    } finally {
      await session.destroy();
    }
  });

  test('Recorder figures cross threads as plain data and merge', () => {
    const a = new Recorder();
    a.answered({ status: 200, headers: {}, bytesReceived: 10, bytesSent: 1, body: undefined, ttfbMs: 1, totalMs: 2 });
    a.succeeded(5);
    a.ttfb('layer', 1);
    const b = new Recorder();
    b.answered({ status: 200, headers: {}, bytesReceived: 20, bytesSent: 2, body: undefined, ttfbMs: 1, totalMs: 2 });
    b.answered({ status: 500, headers: {}, bytesReceived: 0, bytesSent: 0, body: undefined, ttfbMs: 1, totalMs: 2 });
    b.unanswered();
    b.failed('GET layer answered 500', false);
    b.failed('GET layer: timed out', true);
    const merged = new Recorder();
    merged.merge(structuredClone(a.figures()));
    merged.merge(structuredClone(b.figures()));
    assert.deepEqual([...merged.statusCodes], [
      [200, 2],
      [500, 1],
    ]);
    assert.equal(merged.httpRequests, 4);
    assert.equal(merged.bytesReceived, 30);
    assert.equal(merged.bytesSent, 3);
    assert.deepEqual(merged.latenciesMs, [5]);
    assert.deepEqual(merged.ttfbMs.layer, [1]);
    assert.equal(merged.failures, 1);
    assert.equal(merged.timeouts, 1);
    assert.equal(merged.operations, 3);
    assert.deepEqual(Object.fromEntries(merged.errors), { 'GET layer answered 500': 1, 'GET layer: timed out': 1 });
    // The ledger hears of entries as they are made (a thread passes them on).
    const heard: string[] = [];
    const ledger = new ContentLedger((kind, repo, digest) => heard.push(`${kind} ${repo}@${digest}`));
    ledger.blob('r', 'sha256:a');
    ledger.blob('r', 'sha256:a');
    ledger.manifest('r', 'sha256:m');
    assert.deepEqual(heard, ['blob r@sha256:a', 'manifest r@sha256:m']);
  });
});
