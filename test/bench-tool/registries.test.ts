/**
 * porthole-bench against real registries: Debian's docker-registry (CNCF distribution 2.8) and
 * porthole, every test that needs no upstream at -c 2 -n 5 (the 100MB ones included), -o json.
 * No failure, every figure there, and nothing left: every tag gone, and after the registry's own
 * garbage collection no blob left in its storage (both registries keep the emptied repositories
 * in their catalog, and blob files until a collection: that is theirs, not the benchmark's).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TESTS } from '../../src/loadgen/test-catalog.js';
import { startDistribution } from '../helpers/distribution-process.js';
import { cleanup, startPorthole, tempDir } from '../helpers/porthole-process.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { failuresOf, parseReport, runBenchCli } from './bench-cli.js';
import { blobFiles, distributionGarbageCollect, portholeGarbageCollect, tagsUnder } from './registry-content.js';
import { assertCleanedUp, assertCompleteFigures } from './report-checks.js';

const RUN_TIMEOUT = 120_000;
const EXPECTED = TESTS.filter((each) => !each.needsUpstream).map((each) => each.name);

describe('porthole-bench: every test against docker-registry and porthole', { skip: skipUnlessTools('docker-registry') }, () => {
  let work: string;
  before(async () => {
    work = await tempDir('bench-tool-data');
  });
  after(() => cleanup(work));

  const benchmark = async (url: string, repo: string) => {
    const run = await runBenchCli([url, '-c', '2', '-n', '5', '-o', 'json', '-r', repo, '-d', join(work, 'data')], { timeoutMs: RUN_TIMEOUT });
    const report = parseReport(run);
    const tests = report.runs[0]?.tests ?? [];
    assert.equal(run.code, 0, `exit ${run.code}:\n${failuresOf(tests)}\n${run.stderr.slice(-2000)}`);
    assert.equal(report.exitCode, 0);
    assert.equal(report.failures, 0);
    assert.equal(report.runs.length, 1);
    assert.equal(report.runs[0]?.registry, url);
    assert.deepEqual(tests.map((each) => each.name), EXPECTED);
    // The test data stayed out of stdout: it holds the JSON alone, the figures went to stderr.
    assert.match(run.stderr, /Test name: +Pull 10MB/);
    return { run, tests };
  };

  test('docker-registry: no failures, every figure, nothing left after cleanup (Get Referrers skipped: no referrers API)', { timeout: RUN_TIMEOUT + 60_000 }, async (t) => {
    const registry = await startDistribution();
    try {
      const { run, tests } = await benchmark(registry.url, 'bench/dr');
      t.diagnostic(`porthole-bench took ${(run.ms / 1000).toFixed(1)} s`);
      for (const each of tests) {
        if (each.name === 'Get Referrers') {
          assert.equal(each.outcome, 'skipped');
          assert.match(each.reason ?? '', /no referrers API/);
        } else {
          assertCompleteFigures(each, 5);
        }
        assertCleanedUp(each);
      }
      const tags = await tagsUnder(registry.url, 'bench/dr');
      assert.ok(Object.keys(tags).length >= EXPECTED.length, `repositories: ${Object.keys(tags).join(', ')}`);
      assert.deepEqual(Object.entries(tags).filter(([, list]) => list.length > 0), []);
      await registry.stop();
      await distributionGarbageCollect(registry.root, work);
      assert.deepEqual(await blobFiles(join(registry.root, 'docker/registry/v2/blobs')), []);
    } finally {
      await registry.dispose();
    }
  });

  test('porthole: no failures, every figure (referrers too), nothing left after cleanup', { timeout: RUN_TIMEOUT + 60_000 }, async (t) => {
    const root = await tempDir('bench-tool-porthole');
    const porthole = await startPorthole({ root });
    try {
      const { run, tests } = await benchmark(porthole.url, 'bench/ph');
      t.diagnostic(`porthole-bench took ${(run.ms / 1000).toFixed(1)} s`);
      for (const each of tests) {
        assertCompleteFigures(each, 5);
        assertCleanedUp(each);
      }
      const tags = await tagsUnder(porthole.url, 'bench/ph');
      assert.deepEqual(Object.entries(tags).filter(([, list]) => list.length > 0), []);
      await portholeGarbageCollect(root);
      assert.deepEqual(await blobFiles(join(root, 'blobs')), []);
    } finally {
      await porthole.stop();
      await cleanup(root);
    }
  });
});
