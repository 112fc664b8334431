import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EXPORTER_CLI } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { findLogLine } from '../helpers/service-process.js';
import { waitFor } from '../helpers/wait-for.js';
import { fetchExposition } from './metrics-assertions.js';

/** Full-mode metrics on a listener of their own, and the configuration mistakes that must be refused. */

describe('metrics on their own port', { timeout: 60_000 }, () => {
  const started: PortholeProcess[] = [];
  after(async () => {
    await Promise.all(started.map((p) => p.stop()));
    await cleanup(...started.map((p) => p.root));
  });

  /** The metrics port is where they are, the main listener's metrics path is a 404, and main traffic is counted there. */
  async function assertSeparated(p: PortholeProcess, metricsPort: number, path: string): Promise<void> {
    // serve announces "porthole listening" first and binds the metrics listener after: wait for that too.
    await waitFor('"metrics listening"', () => findLogLine(p.output(), 'metrics listening') !== undefined, 10_000);
    const announced = findLogLine(p.output(), 'metrics listening');
    assert.deepEqual({ port: announced?.port, path: announced?.path }, { port: metricsPort, path });
    assert.equal((await raw(p.url, { path })).status, 404, `the main listener does not serve ${path}`);
    assert.equal((await raw(p.url, { path: '/v2/' })).status, 200);
    const metricsUrl = `http://127.0.0.1:${metricsPort}`;
    assert.equal((await raw(metricsUrl, { path: '/v2/' })).status, 404, 'the metrics listener does not serve the registry API');

    const exposition = await fetchExposition(`${metricsUrl}${path}`);
    assert.equal(exposition.value('porthole_info', { mode: 'full' }), 1);
    assert.equal(exposition.value('porthole_http_requests_total', { method: 'GET', route: '/v2/', code: '200' }), 1, 'the main listener is measured');
    assert.equal(exposition.value('porthole_http_requests_total', { method: 'GET', code: '404', route: 'unrouted' }), 1, 'the refused metrics path counts as unrouted');
  }

  test('--metrics PORT serves them on PORT and not on the main listener', async () => {
    const metricsPort = await freePort();
    const p = await startPorthole({ args: ['--metrics', String(metricsPort)] });
    started.push(p);
    await assertSeparated(p, metricsPort, '/metrics');
  });

  test('extensions.metrics.port and prometheus.path in the config do the same', async () => {
    const metricsPort = await freePort();
    const p = await startPorthole({ config: `extensions:\n  metrics:\n    port: ${metricsPort}\n    prometheus:\n      path: /internal/metrics\n` });
    started.push(p);
    await assertSeparated(p, metricsPort, '/internal/metrics');
    assert.equal((await raw(`http://127.0.0.1:${metricsPort}`, { path: '/metrics' })).status, 404, 'only the configured path');
  });
});

describe('metrics configuration errors', { timeout: 60_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await tempDir('metrics-config');
  });
  after(() => cleanup(dir));

  async function withFile(name: string, text: string, args: (file: string) => string[], cli?: string): Promise<CliResult> {
    const file = join(dir, name);
    await writeFile(file, text);
    return runCli(args(file), cli === undefined ? {} : { cli });
  }

  const verify = (name: string, yaml: string): Promise<CliResult> => withFile(name, yaml, (file) => ['verify', file]);
  const exporter = (name: string, json: unknown): Promise<CliResult> => withFile(name, JSON.stringify(json), (file) => ['config', file], EXPORTER_CLI);

  test('porthole verify accepts a complete metrics block', async () => {
    const result = await verify('ok.yaml', 'extensions:\n  metrics:\n    enable: false\n    prometheus:\n      path: /internal/metrics\n    port: 9100\n    maxRepoLabels: 10\n    minimal:\n      checkInterval: 200ms\n      idleTimeout: 1s\n');
    assert.deepEqual({ code: result.code, stdout: result.stdout.trim() }, { code: 0, stdout: 'ok' }, result.stderr);
  });

  test('porthole verify refuses a metrics path under /v2 and unknown metrics keys, naming each', async () => {
    const result = await verify('bad.yaml', 'extensions:\n  metrics:\n    prometheus:\n      path: /v2/metrics\n    scrapeInterval: 5s\n    minimal:\n      idle: 1s\n');
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /3 problem/);
    assert.match(result.stderr, /extensions\.metrics\.prometheus\.path: must not be under \/v2/);
    assert.match(result.stderr, /extensions\.metrics\.scrapeInterval: unknown key/);
    assert.match(result.stderr, /extensions\.metrics\.minimal\.idle: unknown key/);

    const exact = await verify('v2.yaml', 'extensions:\n  metrics:\n    prometheus:\n      path: /v2\n');
    assert.equal(exact.code, 2, exact.stderr);
    assert.match(exact.stderr, /extensions\.metrics\.prometheus\.path: must not be under \/v2/);
  });

  test('porthole serve --metrics with a port that is not a number exits 2 naming extensions.metrics.port', async () => {
    const result = await runCli(['serve', '--port', '0', '--root', join(dir, 'never'), '--metrics', 'ninety']);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /extensions\.metrics\.port/);
  });

  test('porthole-exporter exits 2 naming the key of a bad config', async () => {
    const unknown = await exporter('unknown.json', { Server: { hostname: '127.0.0.1' } });
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /Server\.hostname: unknown key/);

    const badPort = await exporter('port.json', { Exporter: { port: 'http' } });
    assert.equal(badPort.code, 2, badPort.stderr);
    assert.match(badPort.stderr, /Exporter\.port/);

    const unsetVariable = await exporter('env.json', { Server: { username: 'scraper', passwordFromEnv: 'PORTHOLE_TEST_NEVER_SET' } });
    assert.equal(unsetVariable.code, 2, unsetVariable.stderr);
    assert.match(unsetVariable.stderr, /Server\.passwordFromEnv: environment variable PORTHOLE_TEST_NEVER_SET is not set/);

    const missing = await runCli(['config', join(dir, 'missing.json')], { cli: EXPORTER_CLI });
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /missing\.json: cannot read the file/);
  });
});
