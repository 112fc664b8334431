import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { IncomingHttpHeaders } from 'node:http';
import { buildApp } from '../../src/app.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import type { PortholeConfig } from '../../src/config/schema.js';
import { parseKeyValueList, tracingEnvOverrides, tracingKillSwitch, tracingOverrides, type TracingFlags } from '../../src/cli/tracing-options.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { startOtlpReceiver, type OtlpAttributes, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';

/**
 * Where tracing settings come from besides the config file (src/cli/tracing-options.ts): flags,
 * then the standard OTEL_* variables, then the file, then the defaults; OTEL_SDK_DISABLED=true and
 * OTEL_TRACES_EXPORTER=none switch it off above all of them. The file part goes through loadConfig,
 * as `porthole serve` does, so that precedence is checked on the config porthole would run with.
 * The last group follows the variables to what the collector is sent, porthole built in this
 * process (buildApp) exporting to an OTLP/HTTP receiver of the tests' own
 * (test/helpers/otlp-receiver.ts), which stands in for Jaeger or the OpenTelemetry collector:
 * neither has a Debian package on these machines.
 */

const DEFAULT_ENDPOINT = 'http://127.0.0.1:4318/v1/traces';
const FILE_ENDPOINT = 'http://file-collector:4318/v1/traces';
const ENV_ENDPOINT = 'http://env-collector:4318/v1/traces';
const FLAG_ENDPOINT = 'http://flag-collector:4318/v1/traces';

let work: string | undefined;
let tracingFile: string | undefined;

before(async () => {
  work = await tempDir('tracing-options');
  tracingFile = join(work, 'porthole.yaml');
  await writeFile(
    tracingFile,
    ['tracing:', '  enable: true', `  endpoint: ${FILE_ENDPOINT}`, '  samplingProb: 0.2', '  serviceName: from-file', ''].join('\n'),
  );
});

after(async () => {
  if (work !== undefined) await cleanup(work);
});

function fileWithTracing(): string {
  if (tracingFile === undefined) throw new Error('the config file was not written');
  return tracingFile;
}

/** The tracing section porthole would run with, given a file (or none), flags and environment. */
async function tracingOf(file: string | undefined, flags: TracingFlags, env: NodeJS.ProcessEnv): Promise<PortholeConfig['tracing']> {
  return (await loadConfig(file, tracingOverrides(flags, env))).tracing;
}

describe('tracing options: precedence flag > env > file > default', () => {
  test('the endpoint comes from the flag, else OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else the file, else the default', async () => {
    const env = { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: ENV_ENDPOINT };
    assert.equal((await tracingOf(fileWithTracing(), { tracingEndpoint: FLAG_ENDPOINT }, env)).endpoint, FLAG_ENDPOINT);
    assert.equal((await tracingOf(fileWithTracing(), {}, env)).endpoint, ENV_ENDPOINT);
    assert.equal((await tracingOf(fileWithTracing(), {}, {})).endpoint, FILE_ENDPOINT);
    assert.equal((await tracingOf(undefined, {}, {})).endpoint, DEFAULT_ENDPOINT);
  });

  test('the service name comes from OTEL_SERVICE_NAME over the file, and the file over the default', async () => {
    assert.equal((await tracingOf(fileWithTracing(), {}, { OTEL_SERVICE_NAME: 'from-env' })).serviceName, 'from-env');
    assert.equal((await tracingOf(fileWithTracing(), {}, {})).serviceName, 'from-file');
    assert.equal((await tracingOf(undefined, {}, {})).serviceName, 'porthole');
  });

  test('--sampling-prob overrides the file; the file overrides the default 0.3', async () => {
    assert.equal((await tracingOf(fileWithTracing(), { samplingProb: '0.9' }, {})).samplingProb, 0.9);
    assert.equal((await tracingOf(fileWithTracing(), {}, {})).samplingProb, 0.2);
    assert.equal((await tracingOf(undefined, {}, {})).samplingProb, 0.3);
  });

  test('--sampling-prob takes the ways of writing a number from 0 to 1', async () => {
    for (const [text, value] of [
      ['1', 1],
      ['0', 0],
      ['.5', 0.5],
      ['0.25', 0.25],
      ['1e-1', 0.1],
      [' 0.7 ', 0.7],
    ] as const) {
      assert.equal((await tracingOf(undefined, { samplingProb: text }, {})).samplingProb, value, `--sampling-prob ${JSON.stringify(text)}`);
    }
  });

  test('a bad --sampling-prob or --tracing-endpoint is a config error naming its key', async () => {
    for (const [flags, key] of [
      [{ samplingProb: '1.5' }, 'tracing.samplingProb'],
      [{ samplingProb: 'half' }, 'tracing.samplingProb'],
      [{ samplingProb: '-0.1' }, 'tracing.samplingProb'],
      [{ tracingEndpoint: 'notaurl' }, 'tracing.endpoint'],
      [{ tracingEndpoint: 'http://user:pw@collector:4318/v1/traces' }, 'tracing.endpoint'],
    ] as const) {
      await assert.rejects(
        tracingOf(undefined, flags, {}),
        (err: unknown) => err instanceof ConfigError && err.problems.some((problem) => problem.startsWith(`${key}:`)),
        `${JSON.stringify(flags)} is reported against ${key}`,
      );
    }
  });

  test('--tracing turns tracing on over a file that leaves it off; nothing turns it on by default', async () => {
    assert.equal((await tracingOf(undefined, { tracing: true }, {})).enable, true);
    assert.equal((await tracingOf(undefined, {}, {})).enable, false);
    assert.equal((await tracingOf(fileWithTracing(), {}, {})).enable, true);
  });
});

describe('tracing options: the endpoint variables', () => {
  test('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is the URL itself: nothing is appended', () => {
    assert.deepEqual(tracingEnvOverrides({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/custom/path' }), { 'tracing.endpoint': 'http://collector:4318/custom/path' });
    assert.deepEqual(tracingEnvOverrides({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318' }), { 'tracing.endpoint': 'http://collector:4318' });
  });

  test('OTEL_EXPORTER_OTLP_ENDPOINT is a base: /v1/traces is appended, a trailing slash handled', () => {
    for (const [base, endpoint] of [
      ['http://collector:4318', 'http://collector:4318/v1/traces'],
      ['http://collector:4318/', 'http://collector:4318/v1/traces'],
      ['https://otlp.example.com/otlp/', 'https://otlp.example.com/otlp/v1/traces'],
      ['https://otlp.example.com/otlp', 'https://otlp.example.com/otlp/v1/traces'],
    ] as const) {
      assert.deepEqual(tracingEnvOverrides({ OTEL_EXPORTER_OTLP_ENDPOINT: base }), { 'tracing.endpoint': endpoint }, base);
    }
  });

  test('the traces endpoint wins over the base; an empty traces endpoint counts as unset', () => {
    const base = 'http://base:4318';
    assert.deepEqual(tracingEnvOverrides({ OTEL_EXPORTER_OTLP_ENDPOINT: base, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: ENV_ENDPOINT }), { 'tracing.endpoint': ENV_ENDPOINT });
    assert.deepEqual(tracingEnvOverrides({ OTEL_EXPORTER_OTLP_ENDPOINT: base, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '' }), { 'tracing.endpoint': 'http://base:4318/v1/traces' });
  });

  test('an endpoint variable that is not a URL is reported against the variable', async () => {
    for (const variable of ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT']) {
      await assert.rejects(
        tracingOf(undefined, {}, { [variable]: 'collector:4318' }),
        (err: unknown) => err instanceof ConfigError && err.problems.some((problem) => problem.startsWith(`${variable}:`)),
      );
    }
  });

  test('with the kill switch, no other tracing variable or flag is read: a bad one cannot stop porthole', () => {
    const env = { OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318', OTEL_SERVICE_NAME: 'x' };
    assert.deepEqual(tracingOverrides({ tracing: true, samplingProb: 'abc' }, env), { 'tracing.enable': false });
  });

  test('no variable set, no override at all', () => {
    assert.deepEqual(tracingEnvOverrides({}), {});
    assert.deepEqual(tracingOverrides({}, {}), {});
  });
});

describe('tracing options: service name, resource attributes and headers', () => {
  test('OTEL_SERVICE_NAME names the service; a blank one is ignored', () => {
    assert.deepEqual(tracingEnvOverrides({ OTEL_SERVICE_NAME: ' registry-eu ' }), { 'tracing.serviceName': 'registry-eu' });
    assert.deepEqual(tracingEnvOverrides({ OTEL_SERVICE_NAME: '   ' }), {});
  });

  test('OTEL_RESOURCE_ATTRIBUTES: key=value pairs, values percent-decoded, blanks trimmed, empty and key-less items skipped', () => {
    const overrides = tracingEnvOverrides({ OTEL_RESOURCE_ATTRIBUTES: ' deployment.environment=prod , team = registry,,note=a%20b%2Cc%3Dd, novalue ,=orphan,' });
    assert.deepEqual(overrides, { 'tracing.attributes': { 'deployment.environment': 'prod', team: 'registry', note: 'a b,c=d' } });
  });

  test('a value that is not valid percent-encoding is taken as written', () => {
    assert.deepEqual(parseKeyValueList('ratio=100%,other=%zz'), { ratio: '100%', other: '%zz' });
  });

  test('a value may hold "=": only the first one separates key and value', () => {
    assert.deepEqual(parseKeyValueList('authorization=Basic dXNlcjpwdw=='), { authorization: 'Basic dXNlcjpwdw==' });
  });

  test('OTEL_EXPORTER_OTLP_HEADERS become the export headers; OTEL_EXPORTER_OTLP_TRACES_HEADERS wins over them', () => {
    assert.deepEqual(tracingEnvOverrides({ OTEL_EXPORTER_OTLP_HEADERS: 'api-key=s%3Dcret, x-tenant=t1' }), { 'tracing.headers': { 'api-key': 's=cret', 'x-tenant': 't1' } });
    assert.deepEqual(tracingEnvOverrides({ OTEL_EXPORTER_OTLP_HEADERS: 'api-key=general', OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'api-key=traces' }), {
      'tracing.headers': { 'api-key': 'traces' },
    });
  });

  test('the attributes and headers of the variables reach the loaded config', async () => {
    const tracing = await tracingOf(undefined, {}, { OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=staging', OTEL_EXPORTER_OTLP_HEADERS: 'api-key=k1' });
    assert.deepEqual(tracing.attributes, { 'deployment.environment': 'staging' });
    assert.deepEqual(tracing.headers, { 'api-key': 'k1' });
  });
});

describe('tracing options: the kill switch', () => {
  test('OTEL_SDK_DISABLED=true, in any case and with blanks, switches tracing off; any other value does not', () => {
    for (const value of ['true', 'TRUE', 'True', ' true ']) assert.equal(tracingKillSwitch({ OTEL_SDK_DISABLED: value }), 'OTEL_SDK_DISABLED=true', JSON.stringify(value));
    for (const value of ['false', '1', 'yes', '', 'truee']) assert.equal(tracingKillSwitch({ OTEL_SDK_DISABLED: value }), undefined, JSON.stringify(value));
  });

  test('OTEL_TRACES_EXPORTER=none switches tracing off; otlp, or none beside another exporter, does not', () => {
    for (const value of ['none', 'NONE', ' none ']) assert.equal(tracingKillSwitch({ OTEL_TRACES_EXPORTER: value }), 'OTEL_TRACES_EXPORTER=none', JSON.stringify(value));
    for (const value of ['otlp', 'none,otlp', 'otlp,none', 'console', '']) assert.equal(tracingKillSwitch({ OTEL_TRACES_EXPORTER: value }), undefined, JSON.stringify(value));
  });

  test('the kill switch wins over --tracing and over a file that enables tracing', async () => {
    for (const env of [{ OTEL_SDK_DISABLED: 'true' }, { OTEL_TRACES_EXPORTER: 'none' }]) {
      assert.equal((await tracingOf(undefined, { tracing: true }, env)).enable, false, JSON.stringify(env));
      assert.equal((await tracingOf(fileWithTracing(), {}, env)).enable, false, JSON.stringify(env));
    }
  });

  test('without a kill switch, --tracing stays on whatever OTEL_TRACES_EXPORTER lists besides none', async () => {
    for (const env of [{ OTEL_TRACES_EXPORTER: 'otlp' }, { OTEL_TRACES_EXPORTER: 'none,otlp' }, { OTEL_SDK_DISABLED: 'false' }]) {
      assert.equal((await tracingOf(undefined, { tracing: true }, env)).enable, true, JSON.stringify(env));
    }
  });
});

describe('tracing options: what the collector is sent', () => {
  let collector: OtlpReceiver | undefined;
  let apps = 0;

  before(async () => {
    collector = await startOtlpReceiver();
  });

  after(async () => {
    await collector?.close();
  });

  /** The resource of a request's span, and the headers of the export that carried it, porthole run with `env`. */
  async function exportedWith(env: NodeJS.ProcessEnv): Promise<{ resource: OtlpAttributes; headers: IncomingHttpHeaders }> {
    if (collector === undefined || work === undefined) throw new Error('the receiver or the temp dir is missing');
    collector.clear();
    apps += 1;
    const overrides = { 'storage.rootDirectory': join(work, `root-${apps}`), 'tracing.enable': true, 'tracing.endpoint': collector.url, 'tracing.samplingProb': 1 };
    const app = await buildApp(await loadConfig(undefined, { ...overrides, ...tracingOverrides({}, env) }), { logger: memoryLogger('warn').logger });
    try {
      assert.equal((await app.server.inject({ method: 'GET', url: '/v2/' })).statusCode, 200);
    } finally {
      // Closing the app shuts its tracing down, which sends what is queued: no wait needed after it.
      await app.server.close();
    }
    const span = collector.spans()[0];
    if (span === undefined) throw new Error(`no span exported; ${collector.requests().length} export requests`);
    const exported = collector.requests()[span.exportIndex];
    if (exported === undefined) throw new Error('the export that carried the span is not recorded');
    return { resource: span.resource, headers: exported.headers };
  }

  test('OTEL_SERVICE_NAME is the service.name of the traces', async () => {
    assert.equal((await exportedWith({ OTEL_SERVICE_NAME: 'registry-eu' })).resource['service.name'], 'registry-eu');
  });

  test('OTEL_RESOURCE_ATTRIBUTES are resource attributes of the traces', async () => {
    const { resource } = await exportedWith({ OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,team=registry%20ops' });
    assert.equal(resource['deployment.environment'], 'prod');
    assert.equal(resource.team, 'registry ops');
    assert.equal(resource['service.name'], 'porthole');
  });

  test('a service.name in OTEL_RESOURCE_ATTRIBUTES names the service when OTEL_SERVICE_NAME is not set', async () => {
    // As the OpenTelemetry specification has it (docs/tracing.md).
    const { resource } = await exportedWith({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=registry-eu,deployment.environment=prod' });
    assert.equal(resource['service.name'], 'registry-eu');
    assert.equal(resource['deployment.environment'], 'prod');
  });

  test('OTEL_SERVICE_NAME wins over a service.name in OTEL_RESOURCE_ATTRIBUTES', async () => {
    const { resource } = await exportedWith({ OTEL_SERVICE_NAME: 'from-service-name', OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attributes' });
    assert.equal(resource['service.name'], 'from-service-name');
  });

  test('OTEL_EXPORTER_OTLP_HEADERS are sent, percent-decoded, with every export', async () => {
    const { headers } = await exportedWith({ OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=k%3D1,x-tenant=t1' });
    assert.equal(headers['x-api-key'], 'k=1');
    assert.equal(headers['x-tenant'], 't1');
  });
});
