/**
 * --compare against porthole and docker-registry (a ratio per test, the registries taken in turn),
 * and -A against porthole with auth: htpasswd (HTTP Basic), and porthole's own token realm (the
 * bearer dance). Credentials from -A or PORTHOLE_BENCH_AUTH work; a wrong password, or none, stops
 * the run before any test with exit 2 and a message saying so.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDistribution, type DistributionProcess } from '../helpers/distribution-process.js';
import { addHtpasswdUsers } from '../helpers/htpasswd-file.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { failuresOf, parseReport, runBenchCli } from './bench-cli.js';
import { assertCleanedUp, assertCompleteFigures } from './report-checks.js';

const TIMEOUT = 60_000;
const USER = 'bench';
const PASSWORD = 'bench-secret-3f9a';

describe('porthole-bench --compare and auth', { skip: skipUnlessTools('docker-registry', 'htpasswd') }, () => {
  let work: string;
  let htpasswd: string;
  before(async () => {
    work = await tempDir('bench-tool-auth');
    htpasswd = join(work, 'htpasswd');
    await addHtpasswdUsers(htpasswd, { [USER]: PASSWORD }, { create: true });
  });
  after(() => cleanup(work));
  const data = () => join(work, 'data');

  test('--compare porthole docker-registry: each test against both, in turn, with a ratio per test', { timeout: TIMEOUT }, async () => {
    let porthole: PortholeProcess | undefined;
    let registry: DistributionProcess | undefined;
    try {
      // Both started at once; if one fails, the other is still stopped below.
      const [started, other] = await Promise.allSettled([startPorthole({ root: join(work, 'compare-root') }), startDistribution()]);
      if (started.status === 'fulfilled') porthole = started.value;
      if (other.status === 'fulfilled') registry = other.value;
      if (started.status === 'rejected') throw started.reason;
      if (other.status === 'rejected') throw other.reason;
      assert.ok(porthole && registry);
      const names = ['Get Catalog', 'Push Monolith 1MB', 'Pull 1MB', 'Get Manifest'];
      const run = await runBenchCli([porthole.url, '--compare', registry.url, '-c', '2', '-n', '5', '-o', 'json', '-d', data(), '-t', `^(${names.join('|')})$`], { timeoutMs: TIMEOUT });
      const report = parseReport(run);
      assert.equal(run.code, 0, `${failuresOf(report.runs.flatMap((each) => each.tests))}\n${run.stderr}`);
      assert.deepEqual(report.runs.map((each) => each.registry), [porthole.url, registry.url]);
      for (const each of report.runs) {
        assert.deepEqual(each.tests.map((result) => result.name), names);
        for (const result of each.tests) {
          assertCompleteFigures(result, 5);
          assertCleanedUp(result);
        }
      }
      assert.deepEqual(report.comparison?.map((entry) => entry.name), names);
      for (const entry of report.comparison ?? []) {
        assert.deepEqual(entry.registries, [porthole.url, registry.url]);
        const a = report.runs[0]?.tests.find((result) => result.name === entry.name);
        const b = report.runs[1]?.tests.find((result) => result.name === entry.name);
        assert.ok(entry.requestsPerSecond !== null && entry.requestsPerSecond > 0, entry.name);
        assert.ok(Math.abs(entry.requestsPerSecond - (a?.requestsPerSecond ?? 0) / (b?.requestsPerSecond ?? 1)) < 0.01, entry.name);
        assert.ok(entry.p50LatencyMs !== null && entry.p50LatencyMs > 0, entry.name);
      }
      // Taken in turn: porthole first for the first test, docker-registry first for the second, ...
      const order = [...run.stderr.matchAll(/^Registry: +(\S+)$/gm)].map((match) => match[1]);
      assert.deepEqual(order, [porthole.url, registry.url, registry.url, porthole.url, porthole.url, registry.url, registry.url, porthole.url]);
      assert.match(run.stderr, /^Ratios http:\S+ \/ http:\S+ \(req\/s/m);
    } finally {
      await Promise.all([porthole?.stop(), registry?.dispose()]);
    }
  });

  for (const mode of ['htpasswd', 'token'] as const) {
    describe(`porthole with ${mode === 'htpasswd' ? 'htpasswd (HTTP Basic)' : 'its own token realm (bearer tokens)'}`, () => {
      let porthole: PortholeProcess;
      before(async () => {
        const config = ['auth:', `  htpasswd: {path: ${JSON.stringify(htpasswd)}}`, ...(mode === 'token' ? ['  token: {expiry: 5m}'] : []), ''].join('\n');
        porthole = await startPorthole({ root: join(work, `${mode}-root`), config });
      });
      after(() => porthole?.stop());

      test('-A user:password: every request authenticated, nothing fails, cleanup deletes everything', { timeout: TIMEOUT }, async () => {
        const run = await runBenchCli([porthole.url, '-A', `${USER}:${PASSWORD}`, '-c', '2', '-n', '5', '-o', 'json', '-d', data(), '-t', '^(Get Catalog|Push Chunk Streamed 1MB|Pull 1MB|Get Referrers)$'], { timeoutMs: TIMEOUT });
        const report = parseReport(run);
        const tests = report.runs[0]?.tests ?? [];
        assert.equal(run.code, 0, `${failuresOf(tests)}\n${run.stderr}`);
        assert.equal(tests.length, 4);
        for (const result of tests) {
          assertCompleteFigures(result, 5);
          assertCleanedUp(result);
        }
        assert.match(run.stderr, new RegExp(`Authentication: +user ${USER} \\(from -A\\), ${mode === 'token' ? 'bearer' : 'basic'}`));
      });

      test('the credentials from PORTHOLE_BENCH_AUTH', { timeout: TIMEOUT }, async () => {
        const run = await runBenchCli([porthole.url, '-n', '2', '-d', data(), '-t', '^Get Manifest$'], { timeoutMs: TIMEOUT, env: { ...process.env, PORTHOLE_BENCH_AUTH: `${USER}:${PASSWORD}` } });
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stdout, /Authentication: +user bench \(from PORTHOLE_BENCH_AUTH\)/);
        assert.match(run.stdout, /Complete requests: +2/);
      });

      test('a wrong password fails fast: exit 2, a clear message, no test run', { timeout: TIMEOUT }, async () => {
        const run = await runBenchCli([porthole.url, '-A', `${USER}:wrong-password`, '-c', '2', '-n', '5', '-d', data()], { timeoutMs: 15_000 });
        assert.equal(run.code, 2, run.stderr);
        assert.match(run.stderr, mode === 'token' ? /token realm .* refused the credentials of user "bench" \(401\)/ : /refused the credentials given \(401\): check the user and password of -A/);
        assert.doesNotMatch(run.stdout, /Test name/);
        assert.ok(run.ms < 10_000, `took ${run.ms} ms`);
        // Without credentials: Basic auth asks for them on /v2/ itself (a token realm hands out
        // anonymous tokens, and /v2/ takes them: there the pushes fail, as with any client).
        if (mode === 'htpasswd') {
          const none = await runBenchCli([porthole.url, '-d', data()], { timeoutMs: 15_000, env: { ...process.env, PORTHOLE_BENCH_AUTH: '' } });
          assert.equal(none.code, 2, none.stderr);
          assert.match(none.stderr, /asks for credentials \(401\); give -A user:password \(or set PORTHOLE_BENCH_AUTH\)/);
        }
      });
    });
  }
});
