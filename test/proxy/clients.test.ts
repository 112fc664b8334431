import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildOciLayout, type LayoutDescription } from '../fixtures/oci-layout.js';
import { corruptBlobs, layoutRoot, storedBlobDigests } from '../fixtures/oci-layout-reader.js';
import { ContainersSandbox } from '../e2e/containers-sandbox.js';
import { PodmanStore } from '../e2e/podman-store.js';
import { startDistribution, type DistributionProcess } from '../helpers/distribution-process.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { portholeMetrics, upstreamServed } from './proxy-fixture.js';

const TIMEOUT = 120_000;

/**
 * skopeo and podman pulling through porthole from a docker-registry upstream: by path prefix and
 * by the default namespace. Neither tool can send `?ns=` (containerd does; that form is covered
 * over HTTP in pull-through.test.ts).
 */
describe('pull-through cache with skopeo and podman', { timeout: 4 * TIMEOUT, skip: skipUnlessTools('docker-registry', 'skopeo', 'podman') }, () => {
  let upstream: DistributionProcess;
  let porthole: PortholeProcess;
  let sandbox: ContainersSandbox;
  let work: string;
  let single: LayoutDescription;
  let multi: LayoutDescription;

  before(async () => {
    work = await tempDir('proxy-clients');
    sandbox = await ContainersSandbox.create();
    upstream = await startDistribution();
    single = await buildOciLayout({ dir: join(work, 'single'), tag: 'v1', seed: 'proxy-single', layers: 2, fileBytes: 40 * 1024 });
    multi = await buildOciLayout({
      dir: join(work, 'multi'),
      tag: 'multi',
      seed: 'proxy-multi',
      fileBytes: 24 * 1024,
      platforms: [
        { architecture: 'amd64', os: 'linux' },
        { architecture: 'arm64', os: 'linux' },
      ],
    });
    await sandbox.skopeo(['copy', '--quiet', '--dest-tls-verify=false', `oci:${single.dir}:v1`, `docker://${upstream.host}/library/single:v1`]);
    await sandbox.skopeo(['copy', '--quiet', '--all', '--dest-tls-verify=false', `oci:${multi.dir}:multi`, `docker://${upstream.host}/library/multi:multi`]);
    porthole = await startPorthole({
      config: ['extensions: { metrics: { enable: true } }', 'proxy:', '  upstreams:', `    - { name: anon.local, url: "${upstream.url}" }`, '  defaultNamespace: anon.local'].join('\n'),
    });
  });
  after(async () => {
    await porthole?.stop();
    await upstream?.dispose();
    await sandbox?.dispose();
    await cleanup(...[work, porthole?.root].filter((dir): dir is string => dir !== undefined));
  });

  it('skopeo copies a multi-arch image out through the cache, digest for digest, and a second copy fetches nothing upstream', { timeout: TIMEOUT }, async () => {
    const copy = async (target: string) => {
      await sandbox.skopeo(['copy', '--quiet', '--all', '--src-tls-verify=false', `docker://${porthole.host}/anon.local/library/multi:multi`, `oci:${target}:multi`]);
      assert.equal((await layoutRoot(target, 'multi')).digest, multi.index?.digest);
      assert.deepEqual(await corruptBlobs(target), []);
      assert.deepEqual(await storedBlobDigests(target), [...multi.blobDigests].sort());
    };
    const before = await upstreamServed(upstream);
    await copy(join(work, 'out-1'));
    const first = await upstreamServed(upstream);
    const layersAndConfigs = multi.images.reduce((sum, image) => sum + 1 + image.layers.length, 0);
    assert.equal(first.blobGets - before.blobGets, layersAndConfigs, 'each config and layer fetched once');
    await copy(join(work, 'out-2'));
    assert.equal((await upstreamServed(upstream)).blobGets, first.blobGets, 'the second copy came from the cache');
    const metrics = await portholeMetrics(porthole.url);
    assert.equal(metrics.value('porthole_proxy_pulls_total', { namespace: 'anon.local', type: 'blob', source: 'upstream' }), layersAndConfigs);
    assert.equal(metrics.value('porthole_proxy_pulls_total', { namespace: 'anon.local', type: 'blob', source: 'cache' }), layersAndConfigs);
  });

  it('podman pulls one platform of the index with --arch arm64', { timeout: TIMEOUT }, async () => {
    const arm64 = multi.images.find((image) => image.platform.architecture === 'arm64');
    assert.ok(arm64);
    const store = await PodmanStore.create(sandbox);
    try {
      const reference = `${porthole.host}/anon.local/library/multi:multi`;
      const pulled = await store.podman(['pull', '--quiet', '--tls-verify=false', '--arch', 'arm64', reference]);
      assert.equal(pulled.stdout.trim(), arm64.config.digest.slice('sha256:'.length));
      const [image] = JSON.parse((await store.podman(['image', 'inspect', reference])).stdout) as Array<{ Architecture: string; RootFS: { Layers: string[] } }>;
      assert.equal(image?.Architecture, 'arm64');
      assert.deepEqual(image?.RootFS.Layers, arm64.diffIds);
    } finally {
      await store.dispose();
    }
  });

  it('podman pulls by a name without namespace, which goes to defaultNamespace', { timeout: TIMEOUT }, async () => {
    const image = single.images[0];
    assert.ok(image);
    const store = await PodmanStore.create(sandbox);
    try {
      const pulled = await store.podman(['pull', '--quiet', '--tls-verify=false', `${porthole.host}/library/single:v1`]);
      assert.equal(pulled.stdout.trim(), image.config.digest.slice('sha256:'.length));
    } finally {
      await store.dispose();
    }
  });
});
