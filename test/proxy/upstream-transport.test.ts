import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDistribution, type DistributionProcess } from '../helpers/distribution-process.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { errorCodes, raw } from '../helpers/raw-http.js';
import { digestOf } from '../helpers/registry-client.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { getManifest, portholeMetrics, pushThroughTwin, type UpstreamImage } from './proxy-fixture.js';

/** A self-signed certificate for 127.0.0.1, made with openssl. */
function makeCertificate(dir: string): { certificate: string; key: string } {
  const certificate = join(dir, 'upstream.crt');
  const key = join(dir, 'upstream.key');
  const made = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', certificate, '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '2'],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (made.status !== 0) throw new Error(`openssl could not make a certificate: ${made.stderr || made.error?.message}`);
  return { certificate, key };
}

/** A server that accepts connections and never answers: an upstream that hangs. */
async function startSilentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * How porthole reaches its upstreams: over HTTPS, trusting a given CA (a docker-registry with a
 * self-signed certificate), or refusing an unknown one; and never waiting past `timeout` on an
 * upstream that accepts connections but does not answer.
 */
describe('pull-through cache: TLS and timeouts', { skip: skipUnlessTools('docker-registry', 'openssl') }, () => {
  let work: string;
  let secure: DistributionProcess;
  let silent: Awaited<ReturnType<typeof startSilentServer>>;
  let porthole: PortholeProcess;
  let image: UpstreamImage;

  before(async () => {
    work = await tempDir('upstream-transport');
    const tls = makeCertificate(work);
    secure = await startDistribution({ tls });
    // Loaded through a plain twin on the same storage (the test client speaks plain HTTP).
    image = await pushThroughTwin(secure, 'library/app', [4096, 50_000]);
    silent = await startSilentServer();
    porthole = await startPorthole({
      config: [
        'extensions: { metrics: { enable: true } }',
        'proxy:',
        '  upstreams:',
        `    - { name: trusted.local, url: "${secure.url}", tls: { ca: "${tls.certificate}" } }`,
        `    - { name: untrusted.local, url: "${secure.url}" }`,
        `    - { name: skipping.local, url: "${secure.url}", tls: { insecureSkipVerify: true } }`,
        `    - { name: silent.local, url: "${silent.url}", timeout: 1s }`,
      ].join('\n'),
    });
  });
  after(async () => {
    await porthole?.stop();
    await secure?.dispose();
    await silent?.close();
    await cleanup(...[work, porthole?.root].filter((dir): dir is string => dir !== undefined));
  });

  it('pulls over HTTPS from an upstream whose certificate the configured CA signed', async () => {
    const manifest = await getManifest(porthole.url, '/v2/trusted.local/library/app/manifests/v1');
    assert.equal(manifest.status, 200, manifest.body.toString());
    assert.deepEqual(manifest.body, image.manifest);
    for (const digest of image.blobs.keys()) assert.equal(digestOf((await raw(porthole.url, { path: `/v2/trusted.local/library/app/blobs/${digest}` })).body), digest);
  });

  it('refuses an upstream certificate nobody vouches for (503), unless insecureSkipVerify says so', async () => {
    const refused = await getManifest(porthole.url, '/v2/untrusted.local/library/app/manifests/v1');
    assert.equal(refused.status, 503);
    assert.deepEqual(errorCodes(refused), ['UNAVAILABLE']);
    assert.equal((await getManifest(porthole.url, '/v2/skipping.local/library/app/manifests/v1')).status, 200);
  });

  it('answers 503 once the timeout has passed when the upstream accepts but never answers', async () => {
    const answer = await getManifest(porthole.url, '/v2/silent.local/library/app/manifests/v1');
    assert.equal(answer.status, 503);
    assert.deepEqual(errorCodes(answer), ['UNAVAILABLE']);
    assert.match(answer.body.toString(), /no answer in time/);
    const metrics = await portholeMetrics(porthole.url);
    assert.equal(metrics.value('porthole_proxy_upstream_requests_total', { namespace: 'silent.local', outcome: 'timeout' }), 1);
  });
});
