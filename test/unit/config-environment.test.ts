import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fromEnvironment, variableKeys, variableOf } from '../../src/config/environment.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';

async function problemsOf(promise: Promise<unknown>): Promise<string[]> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  assert.fail('expected a ConfigError');
}

describe('configuration from PORTHOLE_* environment variables', () => {
  let work: string;
  let file: string;
  before(async () => {
    work = await tempDir('config-env');
    file = join(work, 'porthole.yaml');
    await writeFile(file, 'http:\n  port: 6000\n  address: 0.0.0.0\nlog:\n  level: warn\n');
  });
  after(() => cleanup(work));

  it('names each variable after its key, camelCase words split', () => {
    assert.equal(variableOf('http.port'), 'PORTHOLE_HTTP_PORT');
    assert.equal(variableOf('storage.s3.forcePathStyle'), 'PORTHOLE_STORAGE_S3_FORCE_PATH_STYLE');
    assert.equal(variableOf('http.tls.clientCA'), 'PORTHOLE_HTTP_TLS_CLIENT_CA');
    assert.equal(variableOf('storage.filesystem.rootDirectory'), 'PORTHOLE_STORAGE_FILESYSTEM_ROOT_DIRECTORY');
    assert.equal(variableOf('replicaId'), 'PORTHOLE_REPLICA_ID');
  });

  it('has a variable for every key, no two keys sharing one; lists and maps are set whole', () => {
    const keys = [...variableKeys().values()].map((entry) => entry.key);
    assert.equal(new Set(keys).size, keys.length);
    for (const key of ['http.port', 'storage.s3.credentials.secretAccessKey', 'redis.url', 'tracing.samplingProb', 'extensions.metrics.minimal.idleTimeout', 'proxy.upstreams', 'accessControl.repositories']) {
      assert.ok(keys.includes(key), key);
    }
    assert.ok(!keys.some((key) => key.startsWith('proxy.upstreams.')), 'the items of a list have no variables of their own');
  });

  it('reads each value as its key takes it: numbers, booleans, null, lists and maps', () => {
    const { overrides } = fromEnvironment({
      PORTHOLE_HTTP_PORT: '5050',
      PORTHOLE_STORAGE_FILESYSTEM_SENDFILE: 'false',
      PORTHOLE_LOG_AUDIT: 'null',
      PORTHOLE_EXTENSIONS_METRICS_PORT: '',
      PORTHOLE_TRACING_SAMPLING_PROB: '0.25',
      PORTHOLE_JOBS_BACKUP_REPOS: 'library/*, team/**',
      PORTHOLE_ACCESS_CONTROL_ADMIN_POLICY_USERS: '["alice", "bob"]',
      PORTHOLE_TRACING_HEADERS: '{x-tenant: porthole}',
      PORTHOLE_LOG_OUTPUT: '/var/log/porthole.log',
    });
    assert.deepEqual(overrides, {
      'http.port': 5050,
      'storage.filesystem.sendfile': false,
      'log.audit': null,
      'extensions.metrics.port': null,
      'tracing.samplingProb': 0.25,
      'jobs.backup.repos': ['library/*', 'team/**'],
      'accessControl.adminPolicy.users': ['alice', 'bob'],
      'tracing.headers': { 'x-tenant': 'porthole' },
      'log.output': '/var/log/porthole.log',
    });
  });

  it('refuses a value that cannot be its key\'s, naming every variable at fault', () => {
    assert.throws(
      () => fromEnvironment({ PORTHOLE_HTTP_PORT: 'five', PORTHOLE_EXTENSIONS_UI_ENABLE: 'maybe', PORTHOLE_PROXY_UPSTREAMS: '[unclosed' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems.map((line) => line.split(':')[0]), [
          'PORTHOLE_EXTENSIONS_UI_ENABLE (extensions.ui.enable)',
          'PORTHOLE_HTTP_PORT (http.port)',
          'PORTHOLE_PROXY_UPSTREAMS (proxy.upstreams)',
        ]);
        assert.match(err.problems[0] as string, /must be true or false/);
        assert.match(err.problems[1] as string, /must be a number/);
        assert.match(err.problems[2] as string, /is not YAML or JSON/);
        return true;
      },
    );
  });

  it('lists variables that set nothing, with the one most likely meant, and leaves porthole\'s other variables alone', () => {
    const { ignored, overrides } = fromEnvironment({
      PORTHOLE_HTTP_PROT: '1',
      PORTHOLE_SOMETHING: 'x',
      PORTHOLE_CONFIG: '/etc/porthole/config.yaml',
      PORTHOLE_COMMIT: 'abc',
      PORTHOLE_STARTUP_TIMEOUT: '10s',
      PORTHOLE_EXPORTER_USERNAME: 'exporter',
      PORTHOLE_BENCH_AUTH: 'a:b',
      // Kubernetes' service links for a Service named porthole.
      PORTHOLE_SERVICE_HOST: '10.0.0.5',
      PORTHOLE_SERVICE_PORT: '5000',
      PORTHOLE_SERVICE_PORT_METRICS: '5001',
      PORTHOLE_PORT: 'tcp://10.0.0.5:5000',
      PORTHOLE_PORT_5000_TCP: 'tcp://10.0.0.5:5000',
      PORTHOLE_PORT_5000_TCP_ADDR: '10.0.0.5',
      HTTP_PORT: '1',
    });
    assert.deepEqual(overrides, {});
    assert.deepEqual(ignored, [{ variable: 'PORTHOLE_HTTP_PROT', suggestion: 'PORTHOLE_HTTP_PORT' }, { variable: 'PORTHOLE_SOMETHING', suggestion: undefined }]);
  });

  it('lays the environment over the file and the flags over the environment', async () => {
    const environment = fromEnvironment({ PORTHOLE_HTTP_PORT: '7000', PORTHOLE_LOG_LEVEL: 'debug', PORTHOLE_STORAGE_DRIVER: 'filesystem' });
    const config = await loadConfig(file, { 'log.level': 'error' }, environment);
    assert.equal(config.http.port, 7000, 'the environment over the file');
    assert.equal(config.http.address, '0.0.0.0', 'the file where the environment says nothing');
    assert.equal(config.log.level, 'error', 'the flag over the environment');
  });

  it('names the variable, not only the key, when the schema refuses what a variable set', async () => {
    const environment = fromEnvironment({ PORTHOLE_HTTP_PORT: '70000', PORTHOLE_LOG_LEVEL: 'loud' });
    const problems = await problemsOf(loadConfig(file, {}, environment));
    assert.ok(problems.some((line) => line.startsWith('PORTHOLE_HTTP_PORT (http.port): must be a whole number from 0 to 65535')), problems.join('\n'));
    assert.ok(problems.some((line) => line.startsWith('PORTHOLE_LOG_LEVEL (log.level): ')), problems.join('\n'));
    // A flag that sets the same key takes the blame itself.
    const flagged = await problemsOf(loadConfig(file, { 'http.port': 70001 }, environment));
    assert.ok(flagged.some((line) => line.startsWith('http.port: ')), flagged.join('\n'));
  });

  it('needs no file at all: S3 and Redis from variables alone', async () => {
    const environment = fromEnvironment({
      PORTHOLE_STORAGE_DRIVER: 's3',
      PORTHOLE_STORAGE_S3_BUCKET: 'registry',
      PORTHOLE_STORAGE_S3_ENDPOINT: 'http://minio:9000',
      PORTHOLE_STORAGE_S3_FORCE_PATH_STYLE: 'true',
      PORTHOLE_STORAGE_S3_CREDENTIALS_ACCESS_KEY_ID: 'id',
      PORTHOLE_STORAGE_S3_CREDENTIALS_SECRET_ACCESS_KEY: 'secret',
      PORTHOLE_REDIS_URL: 'redis://redis:6379',
      PORTHOLE_REPLICA_ID: 'porthole-0',
    });
    const config = await loadConfig(undefined, {}, environment);
    assert.equal(config.storage.driver, 's3');
    assert.equal(config.storage.s3?.forcePathStyle, true);
    assert.equal(config.storage.s3?.credentials?.secretAccessKey, 'secret');
    assert.equal(config.redis?.url, 'redis://redis:6379');
    assert.equal(config.replicaId, 'porthole-0');
  });
});
