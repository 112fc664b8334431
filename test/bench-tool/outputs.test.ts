/**
 * porthole-bench's outputs against a running porthole: the ci-cd list (zb's entries first, then
 * every figure), openmetrics through `promtool check metrics`, the same figures pushed to a real
 * Pushgateway and read back, the default text report, --list-tests, and flags it refuses (exit 2).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CicdEntry } from '../../src/loadgen/output-cicd.js';
import { TESTS } from '../../src/loadgen/test-catalog.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { promtoolCheckMetrics } from '../helpers/promtool.js';
import { startPushgateway } from '../helpers/pushgateway-process.js';
import { sharedPorthole } from '../helpers/shared-porthole.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { parseReport, runBenchCli } from './bench-cli.js';

const TIMEOUT = 60_000;
/** A pull test (TTFB figures), a mixed one, a listing one. */
const SELECTION = '^(Get Catalog|Pull 1MB|Pull 75% and Push 25% Mixed 1MB)$';
const SELECTED = ['Get Catalog', 'Pull 1MB', 'Pull 75% and Push 25% Mixed 1MB'];

describe('porthole-bench outputs', { skip: skipUnlessTools('promtool', 'prometheus-pushgateway') }, () => {
  const porthole = sharedPorthole();
  let work: string;
  before(async () => {
    work = await tempDir('bench-tool-outputs');
  });
  after(() => cleanup(work));
  const bench = (...args: string[]) => runBenchCli([porthole().url, '-c', '2', '-n', '5', '-d', join(work, 'data'), '-t', SELECTION, ...args], { timeoutMs: TIMEOUT });

  test('-o ci-cd: a list of {name, unit, value}, zb\'s requests-per-second entry per test, then every figure', { timeout: TIMEOUT }, async () => {
    const run = await bench('-o', 'ci-cd');
    assert.equal(run.code, 0, run.stderr);
    const entries = JSON.parse(run.stdout) as CicdEntry[];
    assert.ok(Array.isArray(entries));
    for (const entry of entries) {
      assert.deepEqual(Object.keys(entry).sort(), ['name', 'unit', 'value']);
      assert.equal(typeof entry.name, 'string');
      assert.ok(Number.isFinite(entry.value), `${entry.name}: ${entry.value}`);
    }
    const byName = new Map(entries.map((entry) => [entry.name, entry]));
    for (const name of SELECTED) {
      const zb = byName.get(name);
      assert.equal(zb?.unit, 'requests per sec', name);
      assert.ok((zb?.value ?? 0) > 0, name);
      for (const figure of ['min', 'p50', 'p75', 'p90', 'p99', 'max']) assert.ok((byName.get(`${name} - latency ${figure}`)?.value ?? 0) > 0, `${name} latency ${figure}`);
      assert.ok((byName.get(`${name} - bytes per sec`)?.value ?? 0) > 0, `${name} bytes per sec`);
      assert.equal(byName.get(`${name} - failed requests`)?.value, 0);
    }
    for (const kind of ['manifestHead', 'manifestGet', 'config', 'layer']) {
      for (const figure of ['p50', 'p75', 'p90', 'p99']) assert.ok((byName.get(`Pull 1MB - ${kind} TTFB ${figure}`)?.value ?? 0) > 0, `Pull 1MB ${kind} ${figure}`);
    }
  });

  test('-o json: every figure (see registries.test.ts) and the settings of the run', { timeout: TIMEOUT }, async () => {
    const run = await bench('-o', 'json', '-r', 'bench/json');
    assert.equal(run.code, 0, run.stderr);
    const report = parseReport(run);
    assert.equal(report.tool, 'porthole-bench');
    assert.deepEqual(report.settings.concurrency, 2);
    assert.deepEqual(report.settings.requests, 5);
    assert.equal(report.settings.repo, 'bench/json');
    assert.deepEqual(report.runs[0]?.tests.map((each) => each.name), SELECTED);
    assert.deepEqual(report.runs[0]?.tests[2]?.mix, { Pull: 4, Push: 1 });
  });

  test('-o openmetrics passes promtool check metrics, with summaries of latency and time to first byte', { timeout: TIMEOUT }, async () => {
    const run = await bench('-o', 'openmetrics');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /# EOF\n$/);
    const checked = await promtoolCheckMetrics(run.stdout);
    assert.deepEqual(checked, { code: 0, stdout: '', stderr: '' });
    assert.match(run.stdout, /^# TYPE porthole_bench_request_duration_seconds summary$/m);
    assert.match(run.stdout, /^porthole_bench_time_to_first_byte_seconds\{registry="[^"]+",test="Pull 1MB",request="layer",quantile="0.99"\} [\d.e-]+$/m);
    assert.match(run.stdout, /^porthole_bench_requests\{registry="[^"]+",test="Get Catalog"\} 5$/m);
  });

  test('--pushgateway: the figures pushed to a real Pushgateway read back', { timeout: TIMEOUT }, async () => {
    const gateway = await startPushgateway();
    try {
      const run = await bench('-o', 'json', '--pushgateway', gateway.url);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /Results pushed to the Pushgateway/);
      const report = parseReport(run);
      const metrics = await gateway.metrics();
      const registry = porthole().url;
      for (const result of report.runs[0]?.tests ?? []) {
        const labels = { job: 'porthole-bench', registry, test: result.name };
        assert.equal(metrics.value('porthole_bench_requests', labels), 5, result.name);
        assert.equal(metrics.value('porthole_bench_failed_requests', { ...labels, kind: 'error' }), 0, result.name);
        assert.equal(metrics.value('porthole_bench_failed_requests', { ...labels, kind: 'timeout' }), 0, result.name);
        assert.equal(metrics.value('porthole_bench_request_duration_seconds_count', labels), 5, result.name);
        const p50 = metrics.value('porthole_bench_request_duration_seconds', { ...labels, quantile: '0.5' });
        assert.ok(p50 !== undefined && Math.abs(p50 - (result.latencyMs?.p50 ?? 0) / 1000) < 1e-6, `${result.name}: p50 ${p50}`);
        assert.equal(metrics.value('porthole_bench_requests_per_second', labels), result.requestsPerSecond, result.name);
      }
    } finally {
      await gateway.dispose();
    }
  });

  test('the default output: each test as zb prints it, then a summary; no progress line when stderr is not a terminal', { timeout: TIMEOUT }, async () => {
    const run = await bench();
    assert.equal(run.code, 0, run.stderr);
    for (const name of SELECTED) assert.match(run.stdout, new RegExp(`Test name: +${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n`));
    assert.match(run.stdout, /Requests per second: +[\d.]+/);
    assert.match(run.stdout, /Layer TTFB: p50 /);
    assert.match(run.stdout, /^Summary$/m);
    assert.match(run.stdout, /Failures: 0, timeouts: 0 \(allowed 0\); exit code 0/);
    assert.doesNotMatch(run.stderr, /\r/);
  });

  test('-l lists every test, -t filters the list; a regex written for zb selects the same tests', { timeout: TIMEOUT }, async () => {
    const all = await runBenchCli(['-l'], { timeoutMs: 10_000 });
    assert.equal(all.code, 0);
    assert.deepEqual(all.stdout.trim().split('\n').map((line) => line.replace(/ +\(needs --upstream\)$/, '')), TESTS.map((each) => each.name));
    const some = await runBenchCli(['-l', '-t', 'Push Chunk'], { timeoutMs: 10_000 });
    assert.deepEqual(some.stdout.trim().split('\n'), ['Push Chunk Streamed 1MB', 'Push Chunk Streamed 10MB', 'Push Chunk Streamed 100MB', 'Push Chunk Mixed 33% 1MB, 33% 10MB, 33% 100MB']);
  });

  test('flags it cannot use: exit 2 with a message naming each, before any request', { timeout: TIMEOUT }, async () => {
    const cases: Array<[string[], RegExp]> = [
      [['127.0.0.1:5000'], /URL: .* not (a URL|an http)/],
      [[porthole().url, '-c', '0'], /-c, --concurrency: "0"/],
      [[porthole().url, '-n', 'many'], /-n, --requests: "many"/],
      [[porthole().url, '--threads', '0'], /--threads: "0" is not a whole number of at least 1/],
      [[porthole().url, '-t', '('], /-t, --test-regex: /],
      [[porthole().url, '-o', 'xml'], /xml/],
      [[porthole().url, '-A', 'nocolon'], /user:password/],
      [[porthole().url, '--timeout', 'soon'], /--timeout: "soon"/],
      [[porthole().url, '-t', 'no such test'], /no test matches/],
      [[porthole().url, '--ca', join(work, 'missing.pem')], /--ca: cannot read/],
      [['http://127.0.0.1:1'], /cannot reach http:\/\/127\.0\.0\.1:1\/v2\//],
    ];
    for (const [args, message] of cases) {
      const run = await runBenchCli([...args, '-d', join(work, 'data')], { timeoutMs: 15_000 });
      assert.equal(run.code, 2, `${args.join(' ')}: exit ${run.code}\n${run.stderr}`);
      assert.match(run.stderr, message, args.join(' '));
    }
  });
});
