/**
 * The pull-through tests (--upstream): porthole caching a docker-registry (its namespace "up",
 * --upstream-namespace up), and docker-registry's own proxy mode (the same names), each in front
 * of a docker-registry that porthole-bench pushes to. Cold pulls (an image the cache has never
 * seen per request) and warm ones at -c 2 -n 5; the cache refuses deletes (405), which the
 * cleanup reports, while the upstream's copies are deleted. On-demand Sync 1GB runs once (-n 1)
 * against porthole only, to bound the suite's time.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDistribution, type DistributionProcess } from '../helpers/distribution-process.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { skipUnlessTools } from '../helpers/tools.js';
import type { TestResult } from '../../src/loadgen/results.js';
import { failuresOf, parseReport, runBenchCli } from './bench-cli.js';
import { tagsUnder } from './registry-content.js';
import { assertCompleteFigures } from './report-checks.js';

const TIMEOUT = 120_000;
const NAMES = ['On-demand Sync 100MB', 'Pull-through Cold 10MB', 'Pull-through Warm 10MB'];

/** The upstream's copies deleted; the cache's deletes refused (405) and reported, nothing failing. */
function assertCacheCleanup(result: TestResult, cache: string, upstream: string): void {
  const [atCache, atUpstream] = result.cleanup ?? [];
  assert.equal(atCache?.registry, cache, result.name);
  assert.ok((atCache?.refused['405'] ?? 0) > 0, `${result.name}: ${JSON.stringify(atCache)}`);
  assert.equal(atCache?.failed, 0, result.name);
  assert.equal(atUpstream?.registry, upstream, result.name);
  assert.deepEqual(atUpstream?.refused, {}, result.name);
  assert.equal(atUpstream?.failed, 0, result.name);
  assert.ok((atUpstream?.manifestsDeleted ?? 0) > 0, result.name);
}

describe('porthole-bench pull-through tests', { skip: skipUnlessTools('docker-registry') }, () => {
  let work: string;
  let upstream: DistributionProcess;
  before(async () => {
    work = await tempDir('bench-tool-proxy');
    upstream = await startDistribution();
  });
  after(async () => {
    await upstream?.dispose();
    await cleanup(work);
  });

  const benchmark = async (cache: string, namespace: string[], repo: string, selection: string, requests: string) => {
    const run = await runBenchCli([cache, '--upstream', upstream.url, ...namespace, '-c', '2', '-n', requests, '-o', 'json', '-r', repo, '-d', join(work, 'data'), '-t', selection], {
      timeoutMs: TIMEOUT,
    });
    const report = parseReport(run);
    const tests = report.runs[0]?.tests ?? [];
    assert.equal(run.code, 0, `${failuresOf(tests)}\n${run.stderr.slice(-2000)}`);
    return tests;
  };

  test('porthole caching docker-registry: cold and warm pulls at -c 2 -n 5, the cache refusing deletes', { timeout: TIMEOUT }, async () => {
    let porthole: PortholeProcess | undefined;
    try {
      porthole = await startPorthole({ root: join(work, 'porthole'), config: `proxy:\n  upstreams:\n    - {name: up, url: ${JSON.stringify(upstream.url)}}\n` });
      const tests = await benchmark(porthole.url, ['--upstream-namespace', 'up'], 'bench/pt', `^(${NAMES.join('|')})$`, '5');
      assert.deepEqual(tests.map((result) => result.name), NAMES);
      for (const result of tests) {
        assertCompleteFigures(result, 5);
        assertCacheCleanup(result, porthole.url, upstream.url);
      }
      assert.deepEqual(Object.entries(await tagsUnder(upstream.url, 'bench/pt')).filter(([, tags]) => tags.length > 0), []);
    } finally {
      await porthole?.stop();
    }
  });

  test('docker-registry in proxy mode: the same tests by the same names', { timeout: TIMEOUT }, async () => {
    const proxy = await startDistribution({ proxyOf: upstream.url });
    try {
      const tests = await benchmark(proxy.url, [], 'bench/dp', '^Pull-through (Cold|Warm) 10MB$', '5');
      assert.equal(tests.length, 2);
      for (const result of tests) {
        assertCompleteFigures(result, 5);
        assertCacheCleanup(result, proxy.url, upstream.url);
      }
    } finally {
      await proxy.dispose();
    }
  });

  test('On-demand Sync 1GB, once, through porthole', { timeout: TIMEOUT }, async (t) => {
    let porthole: PortholeProcess | undefined;
    try {
      porthole = await startPorthole({ root: join(work, 'porthole-1g'), config: `proxy:\n  upstreams:\n    - {name: up, url: ${JSON.stringify(upstream.url)}}\n` });
      const started = Date.now();
      const [result] = await benchmark(porthole.url, ['--upstream-namespace', 'up'], 'bench/gb', '^On-demand Sync 1GB$', '1');
      t.diagnostic(`took ${((Date.now() - started) / 1000).toFixed(1)} s`);
      assert.ok(result);
      assertCompleteFigures(result, 1);
      assert.ok(result.bytesReceived > 1024 ** 3, `${result.bytesReceived} bytes`);
      assertCacheCleanup(result, porthole.url, upstream.url);
    } finally {
      await porthole?.stop();
    }
  });
});
