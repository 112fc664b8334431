import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { corruptBlobs, layoutRoot, storedBlobDigests } from '../fixtures/oci-layout-reader.js';
import { useE2eSuite } from '../e2e/e2e-suite.js';
import { PodmanStore } from '../e2e/podman-store.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { portholeMetrics, upstreamServed } from './proxy-fixture.js';

const TIMEOUT = 120_000;

/**
 * skopeo and podman pulling through porthole from a docker-registry upstream: by path prefix and
 * by the default namespace. Neither tool can send `?ns=`: containerd does, see
 * e2e/containerd.test.ts (and pull-through.test.ts over plain HTTP).
 */
describe('pull-through cache with skopeo and podman', { timeout: 4 * TIMEOUT, skip: skipUnlessTools('docker-registry', 'skopeo', 'podman') }, () => {
  const suite = useE2eSuite('proxy-clients', {
    single: { seed: 'proxy-single', layers: 2, fileBytes: 40 * 1024 },
    multi: { seed: 'proxy-multi', fileBytes: 24 * 1024 },
    upstream: { namespace: 'anon.local', isDefaultNamespace: true, repos: { single: 'library/single', multi: 'library/multi' } },
  });

  it('skopeo copies a multi-arch image out through the cache, digest for digest, and a second copy fetches nothing upstream', { timeout: TIMEOUT }, async () => {
    const { porthole, sandbox, upstream, work, multi } = suite;
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
    const { porthole, sandbox, multi } = suite;
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
    const { porthole, sandbox, single } = suite;
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
