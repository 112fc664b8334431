import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { durationMs } from '../../src/config/durations.js';
import { ConfigError, loadConfig, validateConfig } from '../../src/config/load.js';
import { renderConfigDocs } from '../../src/config/render-docs.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  assert.fail('expected a ConfigError');
}

async function problemsOfLoading(file: string): Promise<string[]> {
  try {
    await loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  assert.fail(`expected ${file} to be refused`);
}

describe('configuration', () => {
  it('defaults to 127.0.0.1:5000 with storage under ./data and deletion on', () => {
    const config = validateConfig({});
    assert.equal(config.http.address, '127.0.0.1');
    assert.equal(config.http.port, 5000);
    assert.equal(config.storage.driver, 'filesystem');
    assert.equal(config.storage.filesystem.rootDirectory, './data');
    assert.equal(config.storage.delete.enabled, true);
    assert.equal(config.log.level, 'info');
    assert.equal(config.log.output, 'stdout');
  });

  it('names every key at fault, unknown keys included', () => {
    const problems = problemsOf(() =>
      validateConfig({ http: { port: 'x', bogus: 1 }, storage: { uploadExpiry: 'soon', delete: { enabled: 'yes' } }, log: { level: 'loud' }, proxyy: {} }),
    );
    const keys = problems.map((p) => p.split(':')[0]);
    assert.deepEqual(keys.sort(), ['http.bogus', 'http.port', 'log.level', 'proxyy', 'storage.delete.enabled', 'storage.uploadExpiry'].sort());
  });

  it('lets flags override the file and the file override defaults', async () => {
    const dir = await tempDir('config');
    const file = join(dir, 'c.yaml');
    await writeFile(file, 'http:\n  port: 6000\n  address: 0.0.0.0\nstorage:\n  rootDirectory: /srv/registry\n');
    const config = await loadConfig(file, { 'http.port': 7000, 'storage.filesystem.rootDirectory': undefined });
    assert.equal(config.http.port, 7000);
    assert.equal(config.http.address, '0.0.0.0');
    assert.equal(config.storage.filesystem.rootDirectory, '/srv/registry', 'the older flat key is still read');
    const overridden = await loadConfig(file, { 'storage.filesystem.rootDirectory': '/elsewhere' });
    assert.equal(overridden.storage.filesystem.rootDirectory, '/elsewhere', 'a flag overrides the flat key of a file');
    await cleanup(dir);
  });

  it('reads storage.rootDirectory and storage.sendfile at their new place, and refuses one given at both', () => {
    const config = validateConfig({ storage: { rootDirectory: '/srv/a', sendfile: false } });
    assert.deepEqual(config.storage.filesystem, { rootDirectory: '/srv/a', sendfile: false });
    const problems = problemsOf(() => validateConfig({ storage: { rootDirectory: '/srv/a', filesystem: { rootDirectory: '/srv/b' } } }));
    assert.deepEqual(problems, ['storage.rootDirectory: given twice, here and as storage.filesystem.rootDirectory; keep only storage.filesystem.rootDirectory']);
  });

  it('storage.driver s3 needs storage.s3 with a bucket, and a part size S3 accepts', () => {
    assert.deepEqual(problemsOf(() => validateConfig({ storage: { driver: 's3' }, redis: { url: 'redis://127.0.0.1:6379' } })), ['storage.s3: storage.driver is s3: storage.s3 (at least its bucket) is needed']);
    const problems = problemsOf(() => validateConfig({ storage: { driver: 's3', s3: { bucket: 'registry', partSize: 1024, prefix: '/lead', endpoint: 'ftp://x', singleReplica: true } } }));
    assert.deepEqual(problems.map((p) => p.split(':')[0]).sort(), ['storage.s3.endpoint', 'storage.s3.partSize', 'storage.s3.prefix']);
    const config = validateConfig({ storage: { driver: 's3', s3: { bucket: 'registry', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true } }, redis: { url: 'redis://127.0.0.1:6379' } });
    assert.equal(config.storage.s3?.region, 'us-east-1');
    assert.equal(config.storage.s3?.partSize, 16 * 1024 * 1024);
    assert.equal(config.storage.s3?.redirect, false);
    assert.equal(config.redis?.keyPrefix, 'porthole:');
  });

  it('several replicas on one bucket need redis, unless storage.s3.singleReplica says there is one; replicaId and redis are checked', () => {
    assert.deepEqual(problemsOf(() => validateConfig({ storage: { driver: 's3', s3: { bucket: 'registry' } } })), [
      'redis: storage.driver is s3: set redis (the locks several replicas share), or storage.s3.singleReplica: true when only this porthole serves the bucket',
    ]);
    assert.equal(validateConfig({ storage: { driver: 's3', s3: { bucket: 'registry', singleReplica: true } } }).redis, undefined);
    const problems = problemsOf(() => validateConfig({ replicaId: 'has space', redis: { url: 'http://127.0.0.1:6379', keyPrefix: 'bad prefix' } }));
    assert.deepEqual(problems.map((p) => p.split(':')[0]).sort(), ['redis.keyPrefix', 'redis.url', 'replicaId']);
  });

  it('reads JSON files too, and reports unreadable or unparsable files by path', async () => {
    const dir = await tempDir('config');
    const json = join(dir, 'c.json');
    await writeFile(json, JSON.stringify({ log: { level: 'debug' } }));
    assert.equal((await loadConfig(json)).log.level, 'debug');
    const broken = join(dir, 'broken.yaml');
    await writeFile(broken, 'http: [1, 2\n');
    await assert.rejects(loadConfig(broken), (err: unknown) => err instanceof ConfigError && /not valid YAML or JSON/.test(err.problems[0] ?? ''));
    await assert.rejects(loadConfig(join(dir, 'missing.yaml')), (err: unknown) => err instanceof ConfigError && /cannot read/.test(err.problems[0] ?? ''));
    await cleanup(dir);
  });

  it('shows the lines a YAML or JSON syntax error points at, not only its position', async () => {
    const dir = await tempDir('config');
    const yaml = join(dir, 'broken.yaml');
    await writeFile(yaml, 'http:\n  port: 5000\n\tbad: 1\n');
    const [yamlProblem] = await problemsOfLoading(yaml);
    assert.match(yamlProblem ?? '', /at line 3, column 1:\n {4}  port: 5000\n {4}\tbad: 1\n {4}\^$/);
    const json = join(dir, 'broken.json');
    await writeFile(json, '{\n  "log": {}\n  "http": {}\n}\n');
    const [jsonProblem] = await problemsOfLoading(json);
    assert.match(jsonProblem ?? '', /at line 3, column 3:\n {4}  "http": \{\}\n {4}  \^$/);
    await cleanup(dir);
  });

  it('suggests the known key an unknown one most likely misspells, at any depth', () => {
    const problems = problemsOf(() =>
      validateConfig({
        storage: { rootDirectry: './data' },
        http: { bogus: 1 },
        proxy: { upstreams: [{ name: 'docker.io', url: 'https://registry-1.docker.io', auht: {} }], prnue: {} },
      }),
    );
    assert.deepEqual(problems.sort(), [
      'http.bogus: unknown key',
      'proxy.prnue: unknown key (did you mean prune?)',
      'proxy.upstreams.0.auht: unknown key (did you mean auth?)',
      'storage.rootDirectry: unknown key (did you mean filesystem.rootDirectory?)',
    ]);
  });

  it('says which numbers a number key takes, whatever was wrong with the value', () => {
    const problems = problemsOf(() => validateConfig({ http: { port: 'abc' }, extensions: { metrics: { port: 70000, maxRepoLabels: -1 } } }));
    assert.deepEqual(problems.sort(), [
      'extensions.metrics.maxRepoLabels: must be a whole number of at least 0',
      'extensions.metrics.port: must be a whole number from 0 to 65535',
      'http.port: must be a whole number from 0 to 65535',
    ]);
  });

  it('refuses a heartbeat interval under a second, which would rewrite the heartbeat without pause', () => {
    assert.deepEqual(problemsOf(() => validateConfig({ storage: { heartbeatInterval: '0s' } })), ['storage.heartbeatInterval: must be at least 1s']);
    assert.doesNotThrow(() => validateConfig({ storage: { heartbeatInterval: '1s' } }));
  });

  it('parses durations with units', () => {
    assert.equal(durationMs('500ms'), 500);
    assert.equal(durationMs('30s'), 30_000);
    assert.equal(durationMs('2m'), 120_000);
    assert.equal(durationMs('1.5h'), 5_400_000);
    assert.equal(durationMs('30d'), 2_592_000_000);
    assert.throws(() => durationMs('30'), /invalid duration/);
  });

  it('docs/config.md is the rendering of the schema (run `npm run docs:config` when it is not)', async () => {
    const committed = await readFile(new URL('../../../docs/config.md', import.meta.url), 'utf8');
    assert.equal(committed, renderConfigDocs());
  });
});
