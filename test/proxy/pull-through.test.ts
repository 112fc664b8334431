import assert from 'node:assert/strict';
import { get } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startDistribution, type DistributionProcess } from '../helpers/distribution-process.js';
import { cleanup, startPorthole, type PortholeProcess } from '../helpers/porthole-process.js';
import { errorCodes, raw } from '../helpers/raw-http.js';
import { digestOf, pushBlob } from '../helpers/registry-client.js';
import { blobDataFiles, snapshotTree } from '../helpers/storage-tree.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait-for.js';
import { getManifest, portholeMetrics, pushImage, upstreamServed, type UpstreamImage } from './proxy-fixture.js';

/**
 * The pull-through cache against a real upstream: docker-registry (CNCF distribution 2.8) on
 * loopback, anonymous. What the upstream served is read from its own metrics.
 */
describe('pull-through cache', { skip: skipUnlessTools('docker-registry') }, () => {
  let upstream: DistributionProcess;
  let porthole: PortholeProcess;
  let image: UpstreamImage;

  before(async () => {
    upstream = await startDistribution();
    image = await pushImage(upstream.url, 'library/app', 'v1', [1024, 300_000]);
    porthole = await startPorthole({
      config: [
        'extensions: { metrics: { enable: true } }',
        'proxy:',
        '  upstreams:',
        `    - { name: anon.local, url: "${upstream.url}", timeout: 5s }`,
        '  defaultNamespace: anon.local',
        '  tagTtl: 1h',
      ].join('\n'),
    });
  });
  after(async () => {
    await porthole?.stop();
    await upstream?.dispose();
    if (porthole) await cleanup(porthole.root);
  });

  const blobPath = (prefix: string, digest: string) => `/v2/${prefix}library/app/blobs/${digest}`;

  it('fetches a manifest and its blobs on the first pull by path prefix, byte for byte, and serves the second pull from the cache', async () => {
    const before = await upstreamServed(upstream);
    const first = await getManifest(porthole.url, '/v2/anon.local/library/app/manifests/v1');
    assert.equal(first.status, 200, first.body.toString());
    assert.deepEqual(first.body, image.manifest);
    assert.equal(first.headers['docker-content-digest'], image.manifestDigest);
    for (const [digest, bytes] of image.blobs) {
      const blob = await raw(porthole.url, { path: blobPath('anon.local/', digest) });
      assert.equal(blob.status, 200);
      assert.equal(digestOf(blob.body), digest);
      assert.equal(blob.body.length, bytes.length);
    }
    const afterFirst = await upstreamServed(upstream);
    assert.equal(afterFirst.blobGets - before.blobGets, image.blobs.size, 'one upstream GET per blob');

    assert.deepEqual((await getManifest(porthole.url, `/v2/anon.local/library/app/manifests/${image.manifestDigest}`)).body, image.manifest);
    for (const digest of image.blobs.keys()) assert.equal(digestOf((await raw(porthole.url, { path: blobPath('anon.local/', digest) })).body), digest);
    const afterSecond = await upstreamServed(upstream);
    assert.equal(afterSecond.blobGets, afterFirst.blobGets, 'the second pull asked the upstream for no blob');
    assert.equal(afterSecond.manifestGets, afterFirst.manifestGets, 'nor for the manifest (a digest, and a fresh tag)');

    const metrics = await portholeMetrics(porthole.url);
    const pulls = (type: string, source: string) => metrics.value('porthole_proxy_pulls_total', { namespace: 'anon.local', type, source }) ?? 0;
    assert.equal(pulls('blob', 'upstream'), image.blobs.size);
    assert.equal(pulls('blob', 'cache'), image.blobs.size);
    assert.equal(pulls('manifest', 'upstream'), 1);
    assert.equal(pulls('manifest', 'cache'), 1);
    const blobBytes = [...image.blobs.values()].reduce((sum, blob) => sum + blob.length, 0);
    assert.equal(metrics.value('porthole_proxy_upstream_bytes_total', { namespace: 'anon.local', type: 'blob' }), blobBytes);
    assert.equal(metrics.value('porthole_proxy_upstream_requests_total', { namespace: 'anon.local', outcome: 'ok' }), image.blobs.size + 1);
    assert.equal(metrics.value('porthole_proxy_upstream_up', { namespace: 'anon.local' }), 1);
  });

  it('finds the namespace by ?ns= (as containerd mirrors ask) and by defaultNamespace, in the same cache', async () => {
    const before = await upstreamServed(upstream);
    const byNs = await getManifest(porthole.url, '/v2/library/app/manifests/v1?ns=anon.local');
    assert.equal(byNs.status, 200);
    assert.deepEqual(byNs.body, image.manifest);
    const byDefault = await getManifest(porthole.url, '/v2/library/app/manifests/v1');
    assert.deepEqual(byDefault.body, image.manifest);
    for (const digest of image.blobs.keys()) {
      assert.equal(digestOf((await raw(porthole.url, { path: `/v2/library/app/blobs/${digest}?ns=anon.local` })).body), digest);
      assert.equal(digestOf((await raw(porthole.url, { path: blobPath('', digest) })).body), digest);
    }
    const afterwards = await upstreamServed(upstream);
    assert.equal(afterwards.blobGets, before.blobGets, 'cached by the path-prefix pull: nothing fetched again');
  });

  it('keeps hosted repositories beside the cache, and refuses pushes into a cached namespace', async () => {
    const hosted = await pushBlob(porthole.url, 'team/tool', Buffer.from('hosted bytes'));
    assert.equal((await raw(porthole.url, { path: `/v2/team/tool/blobs/${hosted}` })).body.toString(), 'hosted bytes');
    const refused = await raw(porthole.url, { method: 'POST', path: '/v2/anon.local/library/app/blobs/uploads/', headers: { 'content-length': 0 } });
    assert.equal(refused.status, 405);
    assert.deepEqual(errorCodes(refused), ['UNSUPPORTED']);
    const catalog = (await raw(porthole.url, { path: '/v2/_catalog' })).json() as { repositories: string[] };
    assert.deepEqual(catalog.repositories, ['anon.local/library/app', 'team/tool']);
  });

  it('answers 404 with the spec codes when the upstream has no such manifest or blob', async () => {
    const manifest = await getManifest(porthole.url, '/v2/anon.local/library/app/manifests/no-such-tag');
    assert.equal(manifest.status, 404);
    assert.deepEqual(errorCodes(manifest), ['MANIFEST_UNKNOWN']);
    const blob = await raw(porthole.url, { path: blobPath('anon.local/', `sha256:${'0'.repeat(64)}`) });
    assert.equal(blob.status, 404);
    assert.deepEqual(errorCodes(blob), ['BLOB_UNKNOWN']);
  });

  it('shares one upstream fetch per blob among 16 concurrent pulls of an uncached image', async () => {
    const fresh = await pushImage(upstream.url, 'library/busy', 'v1', [512, 6 * 1024 * 1024, 200_000]);
    const before = await upstreamServed(upstream);
    const blobPulls = async (source: string) => (await portholeMetrics(porthole.url)).value('porthole_proxy_pulls_total', { namespace: 'anon.local', type: 'blob', source }) ?? 0;
    const [upstreamBefore, cacheBefore] = [await blobPulls('upstream'), await blobPulls('cache')];
    const pullOnce = async (): Promise<void> => {
      const manifest = await getManifest(porthole.url, '/v2/anon.local/library/busy/manifests/v1');
      assert.deepEqual(manifest.body, fresh.manifest);
      await Promise.all(
        [...fresh.blobs.keys()].map(async (digest) => {
          const blob = await raw(porthole.url, { path: `/v2/anon.local/library/busy/blobs/${digest}`, timeoutMs: 30_000 });
          assert.equal(blob.status, 200);
          assert.equal(digestOf(blob.body), digest);
        }),
      );
    };
    await Promise.all(Array.from({ length: 16 }, pullOnce));
    const afterwards = await upstreamServed(upstream);
    assert.equal(afterwards.blobGets - before.blobGets, fresh.blobs.size, 'exactly one upstream GET per blob');
    assert.equal(afterwards.manifestGets - before.manifestGets, 1, 'and one for the manifest');
    assert.equal((await blobPulls('upstream')) - upstreamBefore, fresh.blobs.size, 'one pull per blob went upstream');
    assert.equal((await blobPulls('cache')) - cacheBefore, 15 * fresh.blobs.size, 'the fifteen others joined it');
  });

  it('serves byte ranges of a blob still being fetched, and of a cached one', async () => {
    const big = await pushImage(upstream.url, 'library/ranged', 'v1', [9 * 1024 * 1024]);
    const [digest, bytes] = [...big.blobs].find(([, blob]) => blob.length > 1_000_000) as [string, Buffer];
    const path = `/v2/anon.local/library/ranged/blobs/${digest}`;
    const ranges = [
      [0, 99],
      [5 * 1024 * 1024 - 10, 5 * 1024 * 1024 + 10],
      [bytes.length - 100, bytes.length - 1],
    ] as const;
    const answers = await Promise.all([raw(porthole.url, { path }), ...ranges.map(([start, end]) => raw(porthole.url, { path, headers: { range: `bytes=${start}-${end}` } }))]);
    assert.equal(digestOf((answers[0] as { body: Buffer }).body), digest);
    ranges.forEach(([start, end], index) => {
      const answer = answers[index + 1] as { status: number; body: Buffer; headers: Record<string, unknown> };
      assert.equal(answer.status, 206);
      assert.equal(answer.headers['content-range'], `bytes ${start}-${end}/${bytes.length}`);
      assert.deepEqual(answer.body, bytes.subarray(start, end + 1));
    });
    const cachedRange = await raw(porthole.url, { path, headers: { range: 'bytes=10-19' } });
    assert.deepEqual(cachedRange.body, bytes.subarray(10, 20));
  });

  it('goes on fetching when the client that started a download hangs up, and caches the blob whole', async () => {
    const big = await pushImage(upstream.url, 'library/abandoned', 'v1', [8 * 1024 * 1024]);
    const [digest] = [...big.blobs].find(([, blob]) => blob.length > 1_000_000) as [string, Buffer];
    const path = `/v2/anon.local/library/abandoned/blobs/${digest}`;
    await new Promise<void>((resolve, reject) => {
      const request = get(`${porthole.url}${path}`, (response) => {
        response.once('data', () => {
          request.destroy();
          resolve();
        });
      });
      request.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(err)));
    });
    const hex = digest.slice('sha256:'.length);
    await waitFor('the abandoned blob to be cached', async () => (await blobDataFiles(porthole.root)).some((blob) => blob.hex === hex), 20_000);
    const before = await upstreamServed(upstream);
    const again = await raw(porthole.url, { path });
    assert.equal(digestOf(again.body), digest);
    assert.equal((await upstreamServed(upstream)).blobGets, before.blobGets, 'served from the cache');
  });

  it('keeps serving what is cached while the upstream is down, fails uncached pulls with 503 UNAVAILABLE, and recovers', async () => {
    const uncached = await pushImage(upstream.url, 'library/later', 'v1', [4096]);
    await upstream.stop();
    try {
      const cached = await getManifest(porthole.url, '/v2/anon.local/library/app/manifests/v1');
      assert.equal(cached.status, 200);
      for (const digest of image.blobs.keys()) assert.equal((await raw(porthole.url, { path: blobPath('anon.local/', digest) })).status, 200);
      const missing = await getManifest(porthole.url, '/v2/anon.local/library/later/manifests/v1');
      assert.equal(missing.status, 503);
      assert.deepEqual(errorCodes(missing), ['UNAVAILABLE']);
      assert.match((missing.json() as { errors: Array<{ message: string }> }).errors[0]?.message ?? '', /upstream cannot supply it now/);
      const metrics = await portholeMetrics(porthole.url);
      assert.equal(metrics.value('porthole_proxy_upstream_up', { namespace: 'anon.local' }), 0);
      assert.ok((metrics.value('porthole_proxy_upstream_requests_total', { namespace: 'anon.local', outcome: 'unreachable' }) ?? 0) >= 1);
    } finally {
      await upstream.start();
    }
    // Back, but porthole leaves it alone until its circuit lets a probe through (unavailableRetry, 1 s).
    await waitFor('the upstream to be used again', async () => (await getManifest(porthole.url, '/v2/anon.local/library/later/manifests/v1')).status === 200);
    const recovered = await getManifest(porthole.url, '/v2/anon.local/library/later/manifests/v1');
    assert.deepEqual(recovered.body, uncached.manifest);
    // Log lines go out at the end of the event-loop turn that wrote them, after the answer.
    await waitFor('the upstream to be logged unavailable, then available again', () => /"msg":"upstream available again"/.test(porthole.output()));
    assert.match(porthole.output(), /"msg":"upstream unavailable"/);
  });

  it('holds only blobs whose bytes match their digest, and no upload session, after all of the above', async () => {
    const tree = await snapshotTree(porthole.root);
    const blobs = await blobDataFiles(porthole.root);
    assert.ok(blobs.length >= image.blobs.size);
    for (const blob of blobs) assert.equal(tree.get(blob.path), blob.hex, `${blob.path} holds the bytes its name promises`);
    assert.ok(![...tree.keys()].some((path) => path.startsWith('uploads/') && path.endsWith('/data')), 'no upload session left behind');
  });
});
