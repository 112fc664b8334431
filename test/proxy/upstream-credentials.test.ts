import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDistribution, type DistributionProcess } from '../helpers/distribution-process.js';
import { freePort } from '../helpers/free-port.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { errorCodes, raw } from '../helpers/raw-http.js';
import { digestOf } from '../helpers/registry-client.js';
import { runCli } from '../helpers/run-cli.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { getManifest, pushImage, type UpstreamImage } from './proxy-fixture.js';

/** What must never appear in a log line or an answer: the password written in a URL. */
const SECRET = 'hunter2-do-not-log';

describe('pull-through cache: credentials written in an upstream URL', () => {
  let dir: string;
  before(async () => {
    dir = await tempDir('upstream-credentials');
  });
  after(async () => {
    await cleanup(dir);
  });

  for (const command of ['verify', 'serve'] as const) {
    it(`are refused by porthole ${command}, naming the key and where credentials go, without repeating them (exit 2)`, async () => {
      const file = join(dir, `${command}.yaml`);
      await writeFile(
        file,
        ['storage: { rootDirectory: ' + JSON.stringify(join(dir, 'data')) + ' }', 'proxy:', '  upstreams:', `    - { name: hub.local, url: "http://me:${SECRET}@127.0.0.1:5999" }`].join('\n'),
      );
      const result = await runCli(command === 'verify' ? ['verify', file] : ['serve', '--config', file, '--port', '0']);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /proxy\.upstreams\.0\.url: must not hold a user name or password/);
      assert.match(result.stderr, /auth\.username and auth\.password/);
      assert.ok(!`${result.stdout}${result.stderr}`.includes(SECRET), 'the password is not repeated');
    });
  }
});

/**
 * An upstream can still hand porthole URLs with credentials in them: a token realm or a
 * redirect's Location. They are never used, and never reach a log line or a client's answer.
 * The upstream here is a small server in front of a real docker-registry: it answers the
 * challenges and redirects a real registry would not send.
 */
describe('pull-through cache: URLs with credentials from an upstream', { skip: skipUnlessTools('docker-registry') }, () => {
  let registry: DistributionProcess;
  let image: UpstreamImage;
  let front: Server;
  let porthole: PortholeProcess;

  before(async () => {
    registry = await startDistribution();
    image = await pushImage(registry.url, 'library/app', 'v1', [4096]);
    const closedPort = await freePort();
    front = createServer((request, response) => {
      const path = request.url ?? '';
      if (path.startsWith('/v2/library/guarded/')) {
        response.writeHead(401, { 'www-authenticate': `Bearer realm="ftp://me:${SECRET}@auth.invalid/token",service="front"` }).end();
      } else if (path.startsWith('/v2/library/app/blobs/')) {
        // To the real registry, with credentials it does not need and a signed query.
        response.writeHead(307, { location: `http://me:${SECRET}@${new URL(registry.url).host}${path}?X-Amz-Signature=${SECRET}` }).end();
      } else if (path.startsWith('/v2/library/gone/blobs/')) {
        response.writeHead(307, { location: `http://me:${SECRET}@127.0.0.1:${closedPort}/cdn${path}?token=${SECRET}` }).end();
      } else {
        response.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    const address = front.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    porthole = await startPorthole({
      logLevel: 'trace',
      config: ['proxy:', '  upstreams:', `    - { name: front.local, url: "http://127.0.0.1:${address.port}", timeout: 5s }`].join('\n'),
    });
  });
  after(async () => {
    await porthole?.stop();
    await new Promise<void>((resolve) => (front ? front.close(() => resolve()) : resolve()));
    await registry?.dispose();
    if (porthole) await cleanup(porthole.root);
  });

  it('follows a redirect without its credentials, and shows them nowhere', async () => {
    const [digest] = [...image.blobs.keys()];
    const served = await raw(porthole.url, { path: `/v2/front.local/library/app/blobs/${digest}` });
    assert.equal(served.status, 200);
    assert.equal(digestOf(served.body), digest);

    const unreachable = await raw(porthole.url, { path: `/v2/front.local/library/gone/blobs/${digest}` });
    assert.equal(unreachable.status, 503);
    assert.deepEqual(errorCodes(unreachable), ['UNAVAILABLE']);
    assert.ok(!unreachable.body.toString().includes(SECRET), unreachable.body.toString());
    assert.ok(!porthole.output().includes(SECRET), 'no log line holds the password');
  });

  it('refuses a token realm that is no usable URL without repeating its credentials', async () => {
    const refused = await getManifest(porthole.url, '/v2/front.local/library/guarded/manifests/v1');
    assert.equal(refused.status, 403);
    assert.deepEqual(errorCodes(refused), ['DENIED']);
    const message = (refused.json() as { errors: Array<{ message: string }> }).errors[0]?.message ?? '';
    assert.match(message, /unusable realm "ftp:\/\/\[REDACTED\]@auth\.invalid\/token"/);
    assert.ok(!refused.body.toString().includes(SECRET), message);
    assert.ok(!porthole.output().includes(SECRET), 'no log line holds the password');
  });
});
