import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDistribution, type DistributionProcess } from '../helpers/distribution-process.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { errorCodes, raw } from '../helpers/raw-http.js';
import { digestOf } from '../helpers/registry-client.js';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { getManifest, pushThroughTwin, type UpstreamImage } from './proxy-fixture.js';

const USER = { username: 'puller', password: 's3cret-pass' };

/**
 * Upstreams that want credentials: a docker-registry behind htpasswd basic auth, and one behind
 * token auth whose tokens come from a Docker-Hub-style token endpoint (test/helpers/token-server.ts;
 * Docker Hub itself is not reachable from here). Images are pushed to them with the same auth.
 */
describe('pull-through cache: upstream auth', { skip: skipUnlessTools('docker-registry', 'htpasswd', 'openssl') }, () => {
  let work: string;
  let basic: DistributionProcess;
  let tokened: DistributionProcess;
  let tokens: TokenServer;
  let porthole: PortholeProcess;
  let wrongPassword: PortholeProcess;
  let basicImage: UpstreamImage;
  let tokenImage: UpstreamImage;

  before(async () => {
    work = await tempDir('upstream-auth');
    tokens = await startTokenServer(work, USER);
    basic = await startDistribution({ basicAuth: USER });
    tokened = await startDistribution({ tokenAuth: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.certificateFile } });
    // Images go up through an open twin on the same storage, so that loading them needs no
    // credentials (and this token endpoint hands out pull tokens only).
    basicImage = await pushThroughTwin(basic, 'team/app', [2048, 90_000]);
    tokenImage = await pushThroughTwin(tokened, 'library/app', [2048, 90_000]);
    const config = (password: string) =>
      [
        'proxy:',
        '  upstreams:',
        `    - { name: basic.local, url: "${basic.url}", auth: { username: ${USER.username}, passwordFromEnv: UPSTREAM_PASSWORD } }`,
        `    - { name: hub.local, url: "${tokened.url}", auth: { username: ${USER.username}, password: "${password}" } }`,
      ].join('\n');
    porthole = await startPorthole({ config: config(USER.password), env: { UPSTREAM_PASSWORD: USER.password } });
    wrongPassword = await startPorthole({ config: config('wrong'), env: { UPSTREAM_PASSWORD: 'wrong' } });
  });
  after(async () => {
    await porthole?.stop();
    await wrongPassword?.stop();
    await basic?.dispose();
    await tokened?.dispose();
    await tokens?.close();
    await cleanup(...[work, porthole?.root, wrongPassword?.root].filter((dir): dir is string => dir !== undefined));
  });

  async function pullAll(prefix: string, image: UpstreamImage): Promise<void> {
    const manifest = await getManifest(porthole.url, `/v2/${prefix}/${image.repo}/manifests/${image.tag}`);
    assert.equal(manifest.status, 200, manifest.body.toString());
    assert.deepEqual(manifest.body, image.manifest);
    for (const digest of image.blobs.keys()) {
      const blob = await raw(porthole.url, { path: `/v2/${prefix}/${image.repo}/blobs/${digest}` });
      assert.equal(blob.status, 200);
      assert.equal(digestOf(blob.body), digest);
    }
  }

  it('pulls from an upstream behind basic auth, with the password from an environment variable', async () => {
    await pullAll('basic.local', basicImage);
  });

  it('does the bearer token dance, and reuses the token until it expires', async () => {
    await pullAll('hub.local', tokenImage);
    assert.deepEqual([...tokens.issued], [[`repository:${tokenImage.repo}:pull`, 1]], 'one token for the whole pull');
  });

  it('answers 403 DENIED, naming the upstream, when the upstream refuses the credentials', async () => {
    for (const prefix of ['basic.local', 'hub.local']) {
      const answer = await getManifest(wrongPassword.url, `/v2/${prefix}/team/app/manifests/v1`);
      assert.equal(answer.status, 403, `${prefix}: ${answer.body.toString()}`);
      assert.deepEqual(errorCodes(answer), ['DENIED']);
      assert.match(answer.body.toString(), new RegExp(prefix.replace('.', '\\.')));
    }
  });

  it('refuses to start, exit 2 naming the key, when passwordFromEnv names an unset variable', async () => {
    await assert.rejects(
      startPorthole({ config: ['proxy:', '  upstreams:', `    - { name: basic.local, url: "${basic.url}", auth: { username: u, passwordFromEnv: PORTHOLE_TEST_UNSET } }`].join('\n') }),
      /proxy\.upstreams\.0\.auth\.passwordFromEnv/,
    );
  });
});
