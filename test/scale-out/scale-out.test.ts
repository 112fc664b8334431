/**
 * Issue 18: three porthole replicas on one S3 bucket (s3rver) sharing a redis-server, behind
 * haproxy (round robin, no stickiness), driven by real clients. What s3rver cannot show (request
 * signatures, conditional writes, atomic overwrites) is listed in helpers/s3rver-process.ts; S3
 * itself is not reachable here.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { accessLines } from '../e2e/access-log.js';
import { ContainersSandbox } from '../e2e/containers-sandbox.js';
import { layoutGraph, layoutRoot } from '../fixtures/oci-layout-reader.js';
import { buildOciLayout, type LayoutDescription } from '../fixtures/oci-layout.js';
import { startDistribution, type DistributionProcess } from '../helpers/distribution-process.js';
import { tempDir, cleanup } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';
import { startRecordingRelay, type RecordingRelay } from '../helpers/recording-relay.js';
import { digestOf, expectStatus, locationOf, makeImage, pushBlob, putManifest, withQuery, OCI_MANIFEST } from '../helpers/registry-client.js';
import { runCli } from '../helpers/run-cli.js';
import { configWithStorage, driverOf } from '../helpers/test-storage.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait-for.js';
import { startCluster, stopCluster, type Cluster } from './cluster.js';

const skip = skipUnlessTools('redis-server', 'haproxy', 'skopeo', 'docker-registry');
const TIMEOUT = 120_000;

describe('three replicas on S3 and Redis behind haproxy', { skip, timeout: 10 * 60_000 }, () => {
  const parts: Partial<Cluster> = {};
  let cluster: Cluster;
  let sandbox: ContainersSandbox;
  let work: string;
  let single: LayoutDescription;
  let upstream: DistributionProcess;
  let relay: RecordingRelay;

  before(async () => {
    work = await tempDir('scale-out');
    single = await buildOciLayout({ dir: join(work, 'single'), tag: 'v1', seed: 'scale-out', layers: 3, fileBytes: 256 * 1024, gzipLevel: 0 });
    sandbox = await ContainersSandbox.create();
    upstream = await startDistribution();
    relay = await startRecordingRelay({ host: '127.0.0.1', port: Number(new URL(upstream.url).port) });
    cluster = await startCluster({ replicas: 3, config: `proxy:\n  upstreams:\n    - { name: hub, url: "${relay.url}" }` }, parts);
  });

  after(async () => {
    await stopCluster(parts);
    await relay?.close();
    await upstream?.dispose();
    await sandbox?.dispose();
    if (work) await cleanup(work);
  });

  const replica = (index: number) => cluster.replicas[index] as NonNullable<Cluster['replicas'][number]>;

  test('skopeo pushes through the balancer, and pulls back the same bytes', { timeout: TIMEOUT }, async () => {
    const destination = `docker://${cluster.balancer.host}/scale/single:v1`;
    await sandbox.skopeo(['copy', '--quiet', '--dest-tls-verify=false', `oci:${single.dir}:v1`, destination]);
    const out = join(work, 'pulled');
    await sandbox.skopeo(['copy', '--quiet', '--src-tls-verify=false', destination, `oci:${out}:v1`]);
    const root = await layoutRoot(out, 'v1');
    assert.equal(root.digest, single.root.digest, 'the manifest came back byte for byte');
    assert.deepEqual(await layoutGraph(out, root.digest), await layoutGraph(single.dir, single.root.digest));
    // Every replica served part of it: the balancer spread the requests.
    // Access lines go out at the end of the event-loop turn that wrote them, after the answer.
    for (let index = 0; index < 3; index += 1) await waitFor(`r${index + 1} to have logged its part`, () => /"path":"\/v2\/scale\/single\//.test(replica(index).output()));
  });

  test('a chunked upload whose requests go to each replica in turn completes', { timeout: TIMEOUT }, async () => {
    const data = Buffer.concat(Array.from({ length: 5 }, (_, index) => Buffer.alloc(100_000 + index, index + 1)));
    const digest = digestOf(data);
    const started = await raw(replica(0).url, { method: 'POST', path: '/v2/scale/chunked/blobs/uploads/' });
    let location = locationOf(expectStatus(started, 202, 'POST on r1'));
    let offset = 0;
    for (let chunk = 0; chunk < 5; chunk += 1) {
      const body = data.subarray(offset, offset + 100_000 + chunk);
      const target = replica((chunk + 1) % 3);
      const headers = { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + body.length - 1}`, 'content-length': body.length };
      location = locationOf(expectStatus(await raw(target.url, { method: 'PATCH', path: location, headers, body }), 202, `PATCH ${chunk} on another replica`));
      offset += body.length;
      const status = await raw(replica((chunk + 2) % 3).url, { path: location });
      assert.equal(status.headers.range, `0-${offset - 1}`, 'a third replica knows how far the session is');
    }
    expectStatus(await raw(replica(2).url, { method: 'PUT', path: withQuery(location, `digest=${digest}`), headers: { 'content-length': 0 } }), 201, 'PUT on r3');
    for (let index = 0; index < 3; index += 1) {
      const blob = await raw(replica(index).url, { path: `/v2/scale/chunked/blobs/${digest}` });
      assert.equal(blob.status, 200);
      assert.ok(blob.body.equals(data), `r${index + 1} serves the whole blob`);
    }
  });

  test('a tag written on one replica is read on the others at once', { timeout: TIMEOUT }, async () => {
    const first = await makeImage(replica(0).url, 'scale/tags', { tag: 'moving' });
    for (const index of [1, 2]) {
      const read = await raw(replica(index).url, { path: '/v2/scale/tags/manifests/moving', headers: { accept: OCI_MANIFEST } });
      assert.equal(read.headers['docker-content-digest'], first.manifestDigest, `r${index + 1} sees the tag`);
    }
    const second = await makeImage(replica(1).url, 'scale/tags');
    expectStatus(await putManifest(replica(1).url, 'scale/tags', 'moving', second.manifest, OCI_MANIFEST), 201, 'retag on r2');
    for (const index of [0, 2]) {
      const read = await raw(replica(index).url, { method: 'HEAD', path: '/v2/scale/tags/manifests/moving', headers: { accept: OCI_MANIFEST } });
      assert.equal(read.headers['docker-content-digest'], second.manifestDigest, `r${index + 1} sees the tag moved`);
    }
    const listed = await raw(replica(2).url, { path: '/v2/scale/tags/tags/list' });
    assert.deepEqual(listed.json(), { name: 'scale/tags', tags: ['moving'] });
  });

  test('a repository pushed to one replica is in the catalog of the others, which had read theirs before', { timeout: TIMEOUT }, async () => {
    const catalog = async (index: number): Promise<string[]> => ((await raw(replica(index).url, { path: '/v2/_catalog' })).json() as { repositories: string[] }).repositories;
    for (const index of [1, 2]) assert.ok(!(await catalog(index)).includes('scale/catalog/new'), `r${index + 1} has read its catalog`);
    await makeImage(replica(0).url, 'scale/catalog/new', { tag: 'v1' });
    // Told by a broadcast through Redis: within moments, not at the next restart.
    for (const index of [1, 2]) await waitFor(`r${index + 1} to list the new repository`, async () => (await catalog(index)).includes('scale/catalog/new'), 5_000);
  });

  test('16 concurrent pushes through the balancer all succeed, and every replica serves them', { timeout: TIMEOUT }, async () => {
    const images = await Promise.all(Array.from({ length: 16 }, (_, index) => makeImage(cluster.balancer.url, `scale/many/${index % 4}`, { tag: `t${index}`, layerSize: 64 * 1024 })));
    for (const [index, image] of images.entries()) {
      const read = await raw(replica(index % 3).url, { path: `/v2/${image.name}/manifests/t${index}`, headers: { accept: OCI_MANIFEST } });
      assert.equal(read.status, 200);
      assert.equal(read.headers['docker-content-digest'], image.manifestDigest);
    }
  });

  test('the management API lists every live replica', { timeout: TIMEOUT }, async () => {
    const listed = await raw(replica(1).url, { path: '/api/v1/replicas' });
    assert.equal(listed.status, 200);
    const ids = (listed.json() as { replicas: Array<{ id: string }> }).replicas.map((entry) => entry.id).sort();
    assert.deepEqual(ids, ['r1', 'r2', 'r3']);
  });

  test('the pull-through cache on three replicas: 10 concurrent pulls of an uncached image make one upstream GET per blob', { timeout: TIMEOUT }, async () => {
    const image = await makeImage(upstream.url, 'library/shared', { tag: 'v1', layerSize: 3 * 1024 * 1024, blobStyle: 'post-put' });
    const before = relay.requests().length;
    const pull = async (): Promise<void> => {
      const manifest = await raw(cluster.balancer.url, { path: '/v2/hub/library/shared/manifests/v1', headers: { accept: OCI_MANIFEST } });
      assert.equal(manifest.status, 200);
      for (const digest of [image.configDigest, image.layerDigest]) {
        const blob = await raw(cluster.balancer.url, { path: `/v2/hub/library/shared/blobs/${digest}` });
        assert.equal(blob.status, 200);
        assert.equal(digestOf(blob.body), digest, 'whole and right');
      }
    };
    await Promise.all(Array.from({ length: 10 }, pull));
    const blobGets = relay
      .requests()
      .slice(before)
      .filter((request) => request.method === 'GET' && request.path.includes('/blobs/'));
    for (const digest of [image.configDigest, image.layerDigest]) {
      assert.equal(blobGets.filter((request) => request.path.endsWith(digest)).length, 1, `one upstream GET of ${digest}`);
    }
  });

  test('with Redis stopped pulls go on and pushes get 503, until it is back', { timeout: TIMEOUT }, async () => {
    const stored = await makeImage(cluster.balancer.url, 'scale/outage', { tag: 'v1' });
    const uncached = await makeImage(upstream.url, 'library/outage', { tag: 'v1', blobStyle: 'post-put' });
    await cluster.redis.stop();
    try {
      for (let index = 0; index < 3; index += 1) {
        const manifest = await raw(replica(index).url, { path: '/v2/scale/outage/manifests/v1', headers: { accept: OCI_MANIFEST } });
        assert.equal(manifest.status, 200, `r${index + 1} serves the manifest`);
        const layer = await raw(replica(index).url, { path: `/v2/scale/outage/blobs/${stored.layerDigest}` });
        assert.ok(layer.body.equals(stored.layer), `r${index + 1} serves the layer`);
      }
      // Pulls through the cache of what it has not cached yet go on too, each replica on its own.
      await waitFor('r1 to see Redis gone', async () => (await raw(replica(0).url, { method: 'POST', path: '/v2/scale/outage/blobs/uploads/' })).status === 503);
      const manifest = await raw(replica(0).url, { path: '/v2/hub/library/outage/manifests/v1', headers: { accept: OCI_MANIFEST } });
      assert.equal(manifest.headers['docker-content-digest'], uncached.manifestDigest);
      const layer = await raw(replica(0).url, { path: `/v2/hub/library/outage/blobs/${uncached.layerDigest}` });
      assert.equal(layer.status, 200);
      assert.ok(layer.body.equals(uncached.layer), 'an uncached blob is fetched and served');
      // Each replica notices as its connection drops; a push is refused by every one.
      for (let index = 0; index < 3; index += 1) {
        await waitFor(`r${index + 1} to refuse pushes`, async () => (await raw(replica(index).url, { method: 'POST', path: '/v2/scale/outage/blobs/uploads/' })).status === 503);
      }
      const refused = await raw(replica(0).url, { method: 'POST', path: '/v2/scale/outage/blobs/uploads/' });
      assert.equal(refused.json()?.errors?.[0]?.code, 'UNAVAILABLE');
      assert.match(refused.json()?.errors?.[0]?.message ?? '', /redis .* is unreachable/);
      const deletion = await raw(replica(1).url, { method: 'DELETE', path: `/v2/scale/outage/manifests/${stored.manifestDigest}` });
      assert.equal(deletion.status, 503, 'deletions are refused too');
    } finally {
      await cluster.redis.start();
    }
    for (let index = 0; index < 3; index += 1) {
      await waitFor(`r${index + 1} to take pushes again`, async () => (await raw(replica(index).url, { method: 'POST', path: '/v2/scale/outage/blobs/uploads/' })).status === 202);
    }
    await makeImage(cluster.balancer.url, 'scale/outage', { tag: 'after' });
  });

  test('batch jobs from the CLI on the shared bucket: gc frees garbage while the replicas serve, and two runs never overlap (their lock is in Redis)', { timeout: TIMEOUT }, async () => {
    const kept = await makeImage(cluster.balancer.url, 'scale/jobs', { tag: 'kept' });
    const garbage = await pushBlob(cluster.balancer.url, 'scale/jobs', Buffer.from('nothing references this blob'));
    const file = join(work, 'jobs.yaml');
    await writeFile(file, configWithStorage('log: { level: warn }', cluster.storage) ?? '');
    // Two runs at once from two "hosts": one collects, the other finds the lock taken.
    const [first, second] = await Promise.all([runCli(['gc', '--config', file, '--grace', '0s'], { timeoutMs: 60_000 }), runCli(['gc', '--config', file, '--grace', '0s'], { timeoutMs: 60_000 })]);
    const outcomes = [first, second].map((run) => (JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as { outcome?: string }).outcome).sort();
    assert.deepEqual(outcomes, ['skipped', 'success'], `${first.stderr}\n${second.stderr}`);
    for (let index = 0; index < 3; index += 1) {
      assert.equal((await raw(replica(index).url, { method: 'HEAD', path: `/v2/scale/jobs/blobs/${garbage}` })).status, 404, `r${index + 1}: the garbage is gone`);
      const layer = await raw(replica(index).url, { path: `/v2/scale/jobs/blobs/${kept.layerDigest}` });
      assert.ok(layer.body.equals(kept.layer), `r${index + 1}: what a manifest references stays`);
    }
    const scrub = await runCli(['scrub', '--config', file], { timeoutMs: 60_000 });
    assert.equal(scrub.code, 0, scrub.stderr);
  });

  // Last: it leaves a replica restarted.
  test('kill -9 of a replica in the middle of a push: skopeo\'s retry succeeds, and no replica serves anything partial', { timeout: TIMEOUT }, async () => {
    const big = await buildOciLayout({ dir: join(work, 'big'), tag: 'v1', seed: 'scale-kill', layers: 4, filesPerLayer: 1, fileBytes: 6 * 1024 * 1024, gzipLevel: 0 });
    const destination = `docker://${cluster.balancer.host}/scale/killed:v1`;
    const victim = replica(1);
    const pushing = sandbox.skopeo(['copy', '--quiet', '--retry-times', '5', '--dest-tls-verify=false', `oci:${big.dir}:v1`, destination], 180_000);
    let settled = false;
    void pushing.finally(() => (settled = true)).catch(() => undefined);
    // Killed as soon as it has answered a request of the push: the push has many more to make.
    await waitFor('r2 to take part in the push', () => accessLines(victim.output()).some((line) => line.path.startsWith('/v2/scale/killed/blobs/uploads/')), 60_000);
    assert.equal(settled, false, 'the push was still going on when r2 was killed');
    await victim.kill9();
    await pushing;
    await cluster.restart(1);
    const out = join(work, 'killed-pulled');
    await sandbox.skopeo(['copy', '--quiet', '--src-tls-verify=false', destination, `oci:${out}:v1`]);
    assert.deepEqual(await layoutGraph(out, big.root.digest), await layoutGraph(big.dir, big.root.digest));
    // Nothing partial anywhere: every blob in the bucket holds the bytes its name says.
    const driver = driverOf(cluster.storage);
    for (const prefix of await driver.list('blobs/sha256')) {
      for (const hex of await driver.list(`blobs/sha256/${prefix}`)) {
        const bytes = await driver.read(`blobs/sha256/${prefix}/${hex}/data`);
        if (bytes === undefined) continue;
        assert.equal(createHash('sha256').update(bytes).digest('hex'), hex, `blob ${hex} is whole`);
      }
    }
    for (let index = 0; index < 3; index += 1) {
      for (const digest of big.images.flatMap((image) => image.layers.map((layer) => layer.digest))) {
        const blob = await raw(replica(index).url, { path: `/v2/scale/killed/blobs/${digest}` });
        assert.equal(blob.status, 200);
        assert.equal(digestOf(blob.body), digest, `r${index + 1} serves ${digest} whole`);
      }
    }
  });
});
