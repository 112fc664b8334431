/**
 * porthole-bench when the registry fails under it: killed in the middle of a run (failures
 * counted, later tests' setups failing, the report printed, a non-zero exit, no hang), and not
 * answering at all (the start-up check times out within --timeout: exit 2).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDistribution } from '../helpers/distribution-process.js';
import { startFaultRelay } from '../helpers/fault-relay.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { parseReport, runBenchCli, runKillingRegistryMidway } from './bench-cli.js';

describe('porthole-bench when the registry fails', { skip: skipUnlessTools('docker-registry') }, () => {
  let work: string;
  before(async () => {
    work = await tempDir('bench-tool-failures');
  });
  after(() => cleanup(work));

  test('a registry killed in the middle of a run: failures counted, the report printed, exit 1, no hang', { timeout: 60_000 }, async () => {
    const registry = await startDistribution();
    try {
      // Once Get Catalog has ended, Push Monolith 10MB's 60 pushes are under way: the registry is killed then.
      const { run, killed } = await runKillingRegistryMidway([registry.url, '-c', '2', '-n', '60', '-o', 'json', '-d', join(work, 'data'), '--timeout', '5s', '-t', '^(Get Catalog|Push Monolith 10MB|Pull 1MB|Get Manifest)$'], registry, 50_000);
      assert.ok(killed, run.stderr);
      assert.equal(run.code, 1, run.stderr);
      const report = parseReport(run);
      assert.equal(report.exitCode, 1);
      const byName = new Map(report.runs[0]?.tests.map((result) => [result.name, result]));
      const catalog = byName.get('Get Catalog');
      assert.equal(catalog?.failed, 0);
      const push = byName.get('Push Monolith 10MB');
      assert.equal(push?.outcome, 'completed');
      assert.ok((push?.failed ?? 0) > 0, `push: ${JSON.stringify(push?.errors)}`);
      assert.equal((push?.completed ?? 0) + (push?.failed ?? 0), 60);
      assert.ok(Object.keys(push?.errors ?? {}).every((reason) => /ECONNREFUSED|ECONNRESET|closed|EPIPE|socket/i.test(reason)), JSON.stringify(push?.errors));
      for (const name of ['Pull 1MB', 'Get Manifest']) {
        const later = byName.get(name);
        assert.equal(later?.outcome, 'setup failed', name);
        assert.equal(later?.failed, 60, name);
        assert.match(later?.reason ?? '', /ECONNREFUSED/, name);
      }
      assert.ok(report.failures >= 120);
      // Its cleanup could not delete what it had pushed, and says so (on a loaded machine the kill
      // may come before any push completed, and then there is nothing to delete).
      if ((push?.completed ?? 0) > 0) assert.ok((push?.cleanup?.[0]?.failed ?? 0) > 0, JSON.stringify(push?.cleanup));
      assert.match(run.stderr, /Failures: \d+, timeouts: \d+ \(allowed 0\); exit code 1/);
    } finally {
      await registry.dispose();
    }
  });

  test('a registry that takes connections and never answers: the start-up check times out within --timeout, exit 2', { timeout: 30_000 }, async () => {
    const registry = await startDistribution();
    const relay = await startFaultRelay({ host: '127.0.0.1', port: Number(new URL(registry.url).port) });
    try {
      relay.setMode('hang');
      const run = await runBenchCli([relay.url, '--timeout', '1s', '-d', join(work, 'data')], { timeoutMs: 20_000 });
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+\/v2\/: timed out/);
      assert.ok(run.ms < 10_000, `took ${run.ms} ms`);
    } finally {
      await relay.close();
      await registry.dispose();
    }
  });
});
