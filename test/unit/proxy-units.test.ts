import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, validateConfig } from '../../src/config/load.js';
import { parseAuthChallenge } from '../../src/proxy/auth-challenge.js';
import { Namespaces } from '../../src/proxy/namespaces.js';
import { TokenCache } from '../../src/proxy/token-cache.js';
import { LocalValues } from '../../src/coordination/shared-values.js';

function problemsOf(raw: unknown): string[] {
  try {
    validateConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  assert.fail('expected a ConfigError');
}

describe('pull-through cache: configuration', () => {
  const upstream = { name: 'docker.io', url: 'https://registry-1.docker.io' };

  it('takes several upstreams with defaults for the rest', () => {
    const config = validateConfig({ proxy: { upstreams: [upstream, { name: 'localhost:5001', url: 'http://127.0.0.1:5001/' }], defaultNamespace: 'docker.io' } });
    assert.equal(config.proxy?.upstreams[0]?.timeout, '30s');
    assert.equal(config.proxy?.tagTtl, '10m');
    assert.equal(config.proxy?.prune.enabled, false);
    assert.equal(config.proxy?.airGapped, false);
    assert.equal(config.proxy?.upstreams[0]?.unavailableRetry, '1s');
    assert.equal(config.proxy?.upstreams[0]?.unavailableRetryMax, '60s');
  });

  it('names the key at fault for each mistake', () => {
    assert.deepEqual(problemsOf({ proxy: { upstreams: [upstream, upstream] } }), ['proxy.upstreams.1.name: "docker.io" is named twice']);
    assert.deepEqual(problemsOf({ proxy: { upstreams: [upstream], defaultNamespace: 'quay.io' } }), ['proxy.defaultNamespace: "quay.io" is not the name of an upstream']);
    assert.match(problemsOf({ proxy: { upstreams: [{ ...upstream, url: 'ftp://x' }] } })[0] ?? '', /^proxy\.upstreams\.0\.url: /);
    assert.match(problemsOf({ proxy: { upstreams: [{ ...upstream, url: 'https://host/v2/' }] } })[0] ?? '', /without a path/);
    // Credentials in the URL would be logged wherever the URL is, and are not sent: they go in auth.
    for (const url of ['http://user:hunter2@host', 'https://user@host:5000/', 'https://:hunter2@host']) {
      const problems = problemsOf({ proxy: { upstreams: [upstream, { ...upstream, name: 'quay.io', url }] } });
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0] ?? '', /^proxy\.upstreams\.1\.url: must not hold a user name or password .*auth\.username and auth\.password/);
      assert.ok(!(problems[0] ?? '').includes('hunter2'));
    }
    assert.match(
      problemsOf({ proxy: { upstreams: [{ ...upstream, unavailableRetry: '10s', unavailableRetryMax: '5s' }] } })[0] ?? '',
      /^proxy\.upstreams\.0\.unavailableRetryMax: must be at least unavailableRetry/,
    );
    assert.match(problemsOf({ proxy: { upstreams: [{ ...upstream, name: 'Docker.IO' }] } })[0] ?? '', /^proxy\.upstreams\.0\.name: /);
    assert.match(problemsOf({ proxy: { upstreams: [{ ...upstream, auth: { username: 'u', password: 'p', passwordFromEnv: 'P' } }] } })[0] ?? '', /password or passwordFromEnv, not both/);
    assert.match(problemsOf({ proxy: { upstreams: [{ ...upstream, tls: { cert: 'c.pem' } }] } })[0] ?? '', /cert and key go together/);
    assert.match(problemsOf({ proxy: { upstreams: [] } })[0] ?? '', /^proxy\.upstreams: /);
    assert.match(problemsOf({ proxy: { upstreams: [upstream], prune: { olderThan: 'a month' } } })[0] ?? '', /^proxy\.prune\.olderThan: /);
  });
});

describe('pull-through cache: WWW-Authenticate challenges', () => {
  it('reads a bearer challenge as Docker Hub sends it', () => {
    const challenge = parseAuthChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"');
    assert.deepEqual(challenge, { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' } });
  });

  it('reads basic challenges, unquoted and escaped values, and prefers bearer among several', () => {
    assert.deepEqual(parseAuthChallenge('Basic realm="basic-realm"'), { scheme: 'basic', params: { realm: 'basic-realm' } });
    assert.deepEqual(parseAuthChallenge('bearer realm=plain, scope="a\\"b"')?.params, { realm: 'plain', scope: 'a"b' });
    assert.equal(parseAuthChallenge(['Basic realm="x"', 'Bearer realm="y"'])?.scheme, 'bearer');
    assert.equal(parseAuthChallenge('Negotiate abc'), undefined);
    assert.equal(parseAuthChallenge(undefined), undefined);
  });
});

describe('pull-through cache: tokens', () => {
  it('keeps a token until shortly before it expires, and shares one request among concurrent callers', async () => {
    let now = 1_000_000;
    const cache = new TokenCache(() => now);
    let issued = 0;
    const issue = async () => ({ token: `t${(issued += 1)}`, expiresInSeconds: 60 });
    const [a, b] = await Promise.all([cache.obtain('s', issue), cache.obtain('s', issue)]);
    assert.deepEqual([a, b, issued], ['t1', 't1', 1]);
    assert.equal(cache.cached('s'), 't1');
    now += 45_000;
    assert.equal(cache.cached('s'), 't1');
    now += 6_000;
    assert.equal(cache.cached('s'), undefined, 'within 10 s of expiry it is not used');
    assert.equal(await cache.obtain('s', issue), 't2');
  });

  it('shares tokens between replicas, but one the registry refused is not taken from the others again', async () => {
    const values = new LocalValues();
    const one = new TokenCache(Date.now, { values, key: 'upstream' });
    const two = new TokenCache(Date.now, { values, key: 'upstream' });
    let issued = 0;
    const issue = async () => ({ token: `t${(issued += 1)}`, expiresInSeconds: 300 });
    assert.equal(await one.obtain('s', issue), 't1');
    assert.equal(await two.obtain('s', issue), 't1', 'the other replica takes the shared token');
    assert.equal(issued, 1);
    two.forget('s');
    assert.equal(await two.obtain('s', issue), 't2', 'refused: a new one, not the shared copy');
    one.forget('s');
    assert.equal(await one.obtain('s', issue), 't2', 'the new one is shared in its turn');
  });
});

describe('pull-through cache: namespaces', () => {
  const upstreams = [{ name: 'docker.io' }, { name: 'localhost:5001' }];
  const hosted = new Set(['team/app']);
  const isHosted = async (name: string) => hosted.has(name);

  it('maps ?ns=, a path prefix and the default namespace onto the same storage names', async () => {
    const namespaces = new Namespaces(upstreams, 'docker.io');
    assert.equal(await namespaces.storageName('library/nginx', 'docker.io', 'pull', isHosted), 'docker.io/library/nginx');
    assert.equal(await namespaces.storageName('docker.io/library/nginx', null, 'pull', isHosted), 'docker.io/library/nginx');
    assert.equal(await namespaces.storageName('library/nginx', null, 'pull', isHosted), 'docker.io/library/nginx');
    assert.equal(await namespaces.storageName('localhost:5001/x/y', null, 'other', isHosted), 'localhost_5001/x/y');
    assert.equal(await namespaces.storageName('x/y', 'localhost:5001', 'pull', isHosted), 'localhost_5001/x/y');
    assert.deepEqual(namespaces.upstreamOf('localhost_5001/x/y'), { upstream: upstreams[1], remote: 'x/y' });
  });

  it('leaves hosted names, pushes and unknown ?ns= alone', async () => {
    const namespaces = new Namespaces(upstreams, 'docker.io');
    assert.equal(await namespaces.storageName('team/app', null, 'pull', isHosted), 'team/app');
    assert.equal(await namespaces.storageName('new/repo', null, 'other', isHosted), 'new/repo');
    assert.equal(await namespaces.storageName('library/nginx', 'quay.io', 'other', isHosted), 'library/nginx');
    assert.equal(namespaces.upstreamOf('team/app'), undefined);
    assert.equal(await new Namespaces(upstreams, null).storageName('library/nginx', null, 'pull', isHosted), 'library/nginx');
  });
});
