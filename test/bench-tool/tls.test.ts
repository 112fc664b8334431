/**
 * porthole-bench against porthole over HTTPS, with a CA made by Debian's openssl: pushes (undici)
 * and pulls (porthole-bench's own keep-alive connections, drain-pool.ts) both trust the registry
 * through --ca, or through --insecure; without either, the run stops before any test.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildApp, type PortholeApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { OpensslCa } from '../tls/openssl-ca.js';
import { failuresOf, parseReport, runBenchCli } from './bench-cli.js';
import { assertCleanedUp, assertCompleteFigures } from './report-checks.js';

const TIMEOUT = 60_000;
const TESTS = '^(Push Monolith 1MB|Pull 1MB|Pull Mixed 20% 1MB, 70% 10MB, 10% 100MB)$';

describe('porthole-bench over HTTPS', { skip: skipUnlessTools('openssl') }, () => {
  let work: string;
  let ca: OpensslCa;
  let app: PortholeApp;
  let url: string;

  before(async () => {
    work = await tempDir('bench-tool-tls');
    ca = await OpensslCa.create(join(work, 'ca'), 'bench-test-ca');
    const server = await ca.issue('server', { cn: '127.0.0.1', usage: 'server', san: ['IP:127.0.0.1'] });
    const config = validateConfig({ storage: { rootDirectory: join(work, 'root') }, http: { tls: { certificate: server.certificate, key: server.key } } });
    app = await buildApp(config, { logger: memoryLogger('warn').logger });
    const address = await app.server.listen({ host: '127.0.0.1', port: 0 });
    url = `https://127.0.0.1:${new URL(address).port}`;
  });

  after(async () => {
    await app?.server.close();
    await cleanup(work);
  });

  for (const trust of ['--ca', '--insecure'] as const) {
    test(`${trust}: pushes and pulls over TLS, nothing fails, everything cleaned up`, { timeout: TIMEOUT }, async () => {
      const args = trust === '--ca' ? ['--ca', ca.certificate] : ['--insecure'];
      const run = await runBenchCli([url, ...args, '-c', '2', '-n', '5', '-o', 'json', '-d', join(work, 'data'), '-t', TESTS], { timeoutMs: TIMEOUT });
      const report = parseReport(run);
      const tests = report.runs[0]?.tests ?? [];
      assert.equal(run.code, 0, `${failuresOf(tests)}\n${run.stderr}`);
      assert.equal(tests.length, 3);
      for (const result of tests) {
        assertCompleteFigures(result, 5);
        assertCleanedUp(result);
      }
      const pulled = tests.find((result) => result.name === 'Pull 1MB');
      assert.ok(pulled && pulled.bytesPerSecond > 0, 'the pull moved bytes');
    });
  }

  test('without --ca or --insecure: exit 2 before any test, saying the certificate is not trusted', { timeout: TIMEOUT }, async () => {
    const run = await runBenchCli([url, '-n', '2', '-d', join(work, 'data'), '-t', '^Pull 1MB$'], { timeoutMs: 20_000 });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /certificate|SELF_SIGNED|UNABLE_TO_VERIFY/i);
    assert.doesNotMatch(run.stdout, /Test name/);
  });
});
