import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { runCli } from '../helpers/run-cli.js';

/**
 * A bad tracing setting stops `porthole serve` before it listens, and fails `porthole verify`,
 * with exit 2 and a message naming the key (an unreachable collector is no config error: see
 * collector-outage.test.ts). Nothing here exports, so no OTLP receiver (the tests' stand-in for
 * Jaeger or the OpenTelemetry collector, which have no Debian package here) is needed.
 */

const BAD_CONFIG_EXIT = 2;

let work: string | undefined;

before(async () => {
  work = await tempDir('tracing-config-errors');
});

after(async () => {
  if (work !== undefined) await cleanup(work);
});

function workDir(): string {
  if (work === undefined) throw new Error('the temp dir was not made');
  return work;
}

/** A config file holding only this tracing section. */
async function tracingFile(name: string, lines: string[]): Promise<string> {
  const file = join(workDir(), `${name}.yaml`);
  await writeFile(file, ['tracing:', '  enable: true', ...lines.map((line) => `  ${line}`), ''].join('\n'));
  return file;
}

/** `porthole serve` on an ephemeral port and a storage root of its own, with these extra arguments. */
function serve(args: string[]): ReturnType<typeof runCli> {
  return runCli(['serve', '--port', '0', '--root', join(workDir(), 'root'), ...args]);
}

function assertRefused(result: Awaited<ReturnType<typeof runCli>>, key: string, what: string): void {
  assert.equal(result.code, BAD_CONFIG_EXIT, `${what}: exit ${result.code}\n${result.stdout}${result.stderr}`);
  assert.ok(result.stderr.includes(`${key}:`), `${what}: stderr names ${key}:\n${result.stderr}`);
  assert.ok(!result.stdout.includes('porthole listening'), `${what}: porthole did not start`);
}

const BAD_FILES = [
  { name: 'negative-probability', lines: ['samplingProb: -1'], key: 'tracing.samplingProb' },
  { name: 'credentials-in-endpoint', lines: ['endpoint: http://user:pw@127.0.0.1:4318/v1/traces'], key: 'tracing.endpoint' },
] as const;

describe('tracing: invalid settings are config errors naming the key (exit 2)', { timeout: 60_000 }, () => {
  test('porthole serve --sampling-prob 1.5', async () => {
    assertRefused(await serve(['--tracing', '--sampling-prob', '1.5']), 'tracing.samplingProb', '--sampling-prob 1.5');
  });

  test('porthole serve --tracing-endpoint notaurl', async () => {
    assertRefused(await serve(['--tracing', '--tracing-endpoint', 'notaurl']), 'tracing.endpoint', '--tracing-endpoint notaurl');
  });

  for (const bad of BAD_FILES) {
    test(`porthole serve and porthole verify with a config file holding ${bad.lines.join(', ')}`, async () => {
      const file = await tracingFile(bad.name, [...bad.lines]);
      assertRefused(await serve(['--config', file]), bad.key, `serve with ${bad.name}`);
      assertRefused(await runCli(['verify', file]), bad.key, `verify ${bad.name}`);
    });
  }

  test('porthole serve --tracing with an OTLP certificate variable naming no readable file, or an unknown compression', async () => {
    const missing = join(workDir(), 'no-such-ca.pem');
    const withEnv = (env: Record<string, string>) => runCli(['serve', '--tracing', '--port', '0', '--root', join(workDir(), 'root')], { env: { ...process.env, ...env } });
    const unreadable = await withEnv({ OTEL_EXPORTER_OTLP_CERTIFICATE: missing });
    assertRefused(unreadable, 'OTEL_EXPORTER_OTLP_CERTIFICATE', 'an unreadable collector CA');
    assert.match(unreadable.stderr, /cannot read ".*no-such-ca\.pem" \(ENOENT\)/);
    assertRefused(await withEnv({ OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'zstd' }), 'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION', 'compression zstd');
  });

  test('the password of an endpoint with credentials is not repeated in the error', async () => {
    const file = await tracingFile('secret-endpoint', ['endpoint: http://user:s3cr3tpw@127.0.0.1:4318/v1/traces']);
    for (const result of [await serve(['--config', file]), await runCli(['verify', file])]) {
      assert.equal(result.code, BAD_CONFIG_EXIT);
      assert.ok(!`${result.stdout}${result.stderr}`.includes('s3cr3tpw'), `the password leaks:\n${result.stderr}`);
    }
  });

  test('porthole verify accepts a valid tracing section', async () => {
    const file = await tracingFile('valid', ['endpoint: http://127.0.0.1:4318/v1/traces', 'samplingProb: 0.3', 'exportTimeout: 5s', 'maxQueueSize: 100']);
    const result = await runCli(['verify', file]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'ok');
  });
});
