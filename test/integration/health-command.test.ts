import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OpensslCa } from '../tls/openssl-ca.js';
import { freePort } from '../helpers/free-port.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { runCli } from '../helpers/run-cli.js';
import { skipUnlessTools } from '../helpers/tools.js';

/** The environment of a `porthole health` run: this process's, PORTHOLE_* variables replaced by `variables`. */
function envWith(variables: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('PORTHOLE_') || name.startsWith('PORTHOLE_TEST_')));
  return { ...base, ...variables };
}

describe('porthole health, the container image\'s health check', () => {
  let work: string;
  let plain: PortholeProcess;
  before(async () => {
    work = await tempDir('health-command');
    plain = await startPorthole();
  });
  after(async () => {
    await plain?.stop();
    await cleanup(work);
  });

  it('exits 0 when the porthole of the configuration answers its probe, finding it through PORTHOLE_* variables', async () => {
    const result = await runCli(['health'], { env: envWith({ PORTHOLE_HTTP_PORT: String(plain.port) }) });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `http://127.0.0.1:${plain.port}/readyz: 200\n`);
    const live = await runCli(['health', '--probe', 'livez', '--url', plain.url], { env: envWith({}) });
    assert.equal(live.code, 0, live.stderr);
    assert.match(live.stdout, /\/livez: 200$/m);
  });

  it('asks a wildcard address on loopback, and reads the port from the configuration file', async () => {
    const file = join(work, 'wildcard.yaml');
    await writeFile(file, `http:\n  address: 0.0.0.0\n  port: ${plain.port}\n`);
    const result = await runCli(['health', '--config', file], { env: envWith({}) });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `http://127.0.0.1:${plain.port}/readyz: 200\n`);
  });

  it('exits 1 when nothing answers, and 2 when it cannot know where to ask', async () => {
    const nobody = await freePort();
    const down = await runCli(['health', '--timeout', '2s'], { env: envWith({ PORTHOLE_HTTP_PORT: String(nobody) }) });
    assert.equal(down.code, 1);
    assert.match(down.stdout, /ECONNREFUSED/);
    const anyPort = await runCli(['health'], { env: envWith({ PORTHOLE_HTTP_PORT: '0' }) });
    assert.equal(anyPort.code, 2);
    assert.match(anyPort.stderr, /http\.port: 0 picks a free port, which the health check cannot know: give --url/);
    const badProbe = await runCli(['health', '--probe', 'healthz'], { env: envWith({}) });
    assert.equal(badProbe.code, 2);
    assert.match(badProbe.stderr, /--probe must be one of livez, readyz, startupz/);
    const badVariable = await runCli(['health'], { env: envWith({ PORTHOLE_HTTP_PORT: 'http' }) });
    assert.equal(badVariable.code, 2);
    assert.match(badVariable.stderr, /PORTHOLE_HTTP_PORT \(http\.port\): must be a number/);
  });

  it('speaks HTTPS to a porthole that serves TLS', { skip: skipUnlessTools('openssl') }, async () => {
    const ca = await OpensslCa.create(join(work, 'ca'), 'health-ca');
    // A certificate for the registry's public name, not for 127.0.0.1, as in a container.
    const server = await ca.issue('server', { cn: 'registry.example', usage: 'server', san: ['DNS:registry.example'] });
    const tls = await startPorthole({ config: `http:\n  tls:\n    certificate: ${server.certificate}\n    key: ${server.key}\n` });
    try {
      const env = envWith({ PORTHOLE_HTTP_PORT: String(tls.port), PORTHOLE_HTTP_TLS_CERTIFICATE: server.certificate, PORTHOLE_HTTP_TLS_KEY: server.key });
      const result = await runCli(['health'], { env });
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.equal(result.stdout, `https://127.0.0.1:${tls.port}/readyz: 200\n`);
    } finally {
      await tls.stop();
    }
  });
});
