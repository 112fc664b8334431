import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDistribution, type DistributionProcess } from '../helpers/distribution-process.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { errorCodes, raw } from '../helpers/raw-http.js';
import { digestOf } from '../helpers/registry-client.js';
import { startSlowRelay, type SlowRelay } from '../helpers/slow-relay.js';
import { blobDataFiles } from '../helpers/storage-tree.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait-for.js';
import { getManifest, portholeMetrics, pushImage, upstreamServed, uploadSessionsWithData } from './proxy-fixture.js';

const proxyConfig = (url: string, extra: string[] = []) =>
  ['extensions: { metrics: { enable: true } }', 'proxy:', '  upstreams:', `    - { name: up.local, url: "${url}", timeout: 5s }`, ...extra.map((line) => `  ${line}`)].join('\n');

describe('pull-through cache: an upstream that fails', { skip: skipUnlessTools('docker-registry') }, () => {
  let upstream: DistributionProcess;
  let relay: SlowRelay;
  let porthole: PortholeProcess;
  const roots: string[] = [];

  before(async () => {
    upstream = await startDistribution();
    const port = Number(new URL(upstream.url).port);
    // 8 MiB/s: a 12 MiB blob takes 1.5 s, time enough to kill the upstream half-way.
    relay = await startSlowRelay({ host: '127.0.0.1', port }, 8 * 1024 * 1024);
    porthole = await startPorthole({ config: proxyConfig(relay.url) });
    roots.push(porthole.root);
  });
  after(async () => {
    await porthole?.stop();
    await relay?.close();
    await upstream?.dispose();
    await cleanup(...roots);
  });

  it('caches nothing of a blob whose upstream is killed mid-transfer, and fetches it whole once the upstream is back', async () => {
    const image = await pushImage(upstream.url, 'library/big', 'v1', [12 * 1024 * 1024]);
    const [digest, bytes] = [...image.blobs].find(([, blob]) => blob.length > 1_000_000) as [string, Buffer];
    const path = `/v2/up.local/library/big/blobs/${digest}`;
    const startedAt = relay.relayed();
    const cutShort = raw(porthole.url, { path, timeoutMs: 30_000 }).then(
      (answer) => answer.body.length,
      () => -1,
    );
    await waitFor('a quarter of the blob to pass the relay', () => relay.relayed() - startedAt > bytes.length / 4, 20_000);
    await upstream.stop('SIGKILL');
    const received = await cutShort;
    assert.ok(received < bytes.length, `the client got ${received} of ${bytes.length} bytes: a cut-off answer, not a whole one`);

    await waitFor('the failed download to be cleaned up', async () => !(await uploadSessionsWithData(porthole.root)), 10_000);
    const hex = digest.slice('sha256:'.length);
    assert.ok(!(await blobDataFiles(porthole.root)).some((blob) => blob.hex === hex), 'no blob data for the broken transfer');
    const metrics = await portholeMetrics(porthole.url);
    assert.ok((metrics.value('porthole_proxy_upstream_requests_total', { namespace: 'up.local', outcome: 'broken' }) ?? 0) >= 1);

    await upstream.start();
    const retried = await raw(porthole.url, { path, timeoutMs: 30_000 });
    assert.equal(retried.status, 200);
    assert.equal(digestOf(retried.body), digest);
    // The last byte goes out once the bytes are verified, before the commit's fsyncs finish.
    await waitFor('the fetched blob to be committed', async () => (await blobDataFiles(porthole.root)).some((blob) => blob.hex === hex), 10_000);
  });

  it('never sends a whole blob whose bytes do not match its digest, and caches none of it', async () => {
    const image = await pushImage(upstream.url, 'library/corrupt', 'v1', [3 * 1024 * 1024]);
    const [digest, bytes] = [...image.blobs].find(([, blob]) => blob.length > 1_000_000) as [string, Buffer];
    const hex = digest.slice('sha256:'.length);
    // docker-registry serves its files as they are: flip one byte of its copy, same length.
    const stored = join(upstream.root, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const corrupt = Buffer.from(bytes);
    corrupt[corrupt.length - 1] = (corrupt[corrupt.length - 1] as number) ^ 0xff;
    await writeFile(stored, corrupt);
    const broken = async () => (await portholeMetrics(porthole.url)).value('porthole_proxy_upstream_requests_total', { namespace: 'up.local', outcome: 'broken' }) ?? 0;
    const brokenBefore = await broken();
    const received = await raw(porthole.url, { path: `/v2/up.local/library/corrupt/blobs/${digest}`, timeoutMs: 30_000 }).then(
      (answer) => answer.body.length,
      () => -1,
    );
    assert.ok(received < bytes.length, `the client got ${received} of ${bytes.length} bytes, never the whole wrong blob`);
    assert.equal((await blobDataFiles(porthole.root)).some((blob) => blob.hex === hex), false, 'nothing cached');
    await waitFor('the failure to be logged', () => porthole.output().includes('blob download from upstream failed'), 5000);
    assert.equal(await broken(), brokenBefore + 1, 'the upstream request counts as broken, though its body arrived whole');
  });

  it('air-gapped: serves what is cached, answers 404 for the rest, and never contacts the upstream', async () => {
    const cached = await pushImage(upstream.url, 'library/kept', 'v1', [8192]);
    const notCached = await pushImage(upstream.url, 'library/never', 'v1', [8192]);
    const online = await startPorthole({ config: proxyConfig(upstream.url) });
    roots.push(online.root);
    assert.equal((await getManifest(online.url, '/v2/up.local/library/kept/manifests/v1')).status, 200);
    for (const digest of cached.blobs.keys()) assert.equal((await raw(online.url, { path: `/v2/up.local/library/kept/blobs/${digest}` })).status, 200);
    await online.stop();

    const airGapped = await startPorthole({ root: online.root, config: proxyConfig(upstream.url, ['airGapped: true']) });
    try {
      const before = await upstreamServed(upstream);
      const manifest = await getManifest(airGapped.url, '/v2/up.local/library/kept/manifests/v1');
      assert.equal(manifest.status, 200);
      assert.deepEqual(manifest.body, cached.manifest);
      for (const digest of cached.blobs.keys()) assert.equal(digestOf((await raw(airGapped.url, { path: `/v2/up.local/library/kept/blobs/${digest}` })).body), digest);
      const missing = await getManifest(airGapped.url, '/v2/up.local/library/never/manifests/v1');
      assert.equal(missing.status, 404);
      assert.deepEqual(errorCodes(missing), ['NAME_UNKNOWN']);
      const missingBlob = await raw(airGapped.url, { path: `/v2/up.local/library/kept/blobs/${[...notCached.blobs.keys()][0]}` });
      assert.equal(missingBlob.status, 404);
      assert.deepEqual(await upstreamServed(upstream), before, 'the upstream served nothing');
      const metrics = await portholeMetrics(airGapped.url);
      assert.equal(metrics.find('porthole_proxy_upstream_requests_total').length, 0, 'no upstream request was even tried');
    } finally {
      await airGapped.stop();
    }
  });

  it('checks `latest` upstream on every pull with alwaysPullLatest, and other tags only after tagTtl (in the background); a stale tag is still served while the upstream is down', async () => {
    const work = await tempDir('tags');
    roots.push(work);
    await pushImage(upstream.url, 'library/moving', 'latest', [1000]);
    await pushImage(upstream.url, 'library/moving', 'stable', [1000]);
    const pinned = await startPorthole({ config: proxyConfig(upstream.url, ['alwaysPullLatest: true', 'tagTtl: 1h']) });
    const shortLived = await startPorthole({ config: proxyConfig(upstream.url, ['tagTtl: 1s']) });
    roots.push(pinned.root, shortLived.root);
    try {
      const digestAt = async (porthole: PortholeProcess, tag: string) => {
        const answer = await getManifest(porthole.url, `/v2/up.local/library/moving/manifests/${tag}`);
        assert.equal(answer.status, 200, answer.body.toString());
        return answer.headers['docker-content-digest'];
      };
      const firstLatest = await digestAt(pinned, 'latest');
      const firstStable = await digestAt(pinned, 'stable');
      assert.equal(await digestAt(shortLived, 'stable'), firstStable);

      const newLatest = await pushImage(upstream.url, 'library/moving', 'latest', [1000]);
      const newStable = await pushImage(upstream.url, 'library/moving', 'stable', [1000]);
      assert.notEqual(newLatest.manifestDigest, firstLatest);
      assert.equal(await digestAt(pinned, 'latest'), newLatest.manifestDigest, 'latest was checked upstream at once');
      assert.equal(await digestAt(pinned, 'stable'), firstStable, 'stable is trusted for its hour');

      await sleep(1200);
      assert.equal(await digestAt(shortLived, 'stable'), firstStable, 'past tagTtl the cached tag is served at once, and checked in the background');
      await waitFor('the background check to find that the tag moved', async () => (await digestAt(shortLived, 'stable')) === newStable.manifestDigest);

      await upstream.stop();
      try {
        await sleep(1200);
        assert.equal(await digestAt(shortLived, 'stable'), newStable.manifestDigest, 'stale, upstream down: the cached tag is served');
      } finally {
        await upstream.start();
      }
    } finally {
      await pinned.stop();
      await shortLived.stop();
    }
  });
});
