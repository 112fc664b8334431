import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { corruptBlobs, layoutGraph, layoutRoot, storedBlobDigests } from '../fixtures/oci-layout-reader.js';
import { OCI_MEDIA_TYPES, sha256Digest, type LayoutDescription } from '../fixtures/oci-layout.js';
import { errorCodes, raw, type RawResponse } from '../helpers/raw-http.js';
import { requireTools } from '../helpers/tools.js';
import { accessLogUntil, isMountInto } from './access-log.js';
import { useE2eSuite } from './e2e-suite.js';
import { CommandError } from './run-command.js';
import { parseSkopeoJson, type SkopeoConfig, type SkopeoInspect, type SkopeoTagList } from './skopeo-output.js';
import { snapshotStored } from '../helpers/stored-snapshot.js';
import { driverOf } from '../helpers/test-storage.js';

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const ACCEPT_ALL = [OCI_MEDIA_TYPES.manifest, OCI_MEDIA_TYPES.index, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST].join(', ');
const TEST_TIMEOUT = 120_000;

// Layers of about 1 MiB, so that uploads span many socket reads and skopeo streams them.
const suite = useE2eSuite('e2e-skopeo', { single: { seed: 'skopeo-single', layers: 3, fileBytes: 512 * 1024 } });

function dockerRef(repo: string, tag: string): string {
  return `docker://${suite.porthole.host}/${repo}:${tag}`;
}

function getManifest(repo: string, reference: string): Promise<RawResponse> {
  return raw(suite.porthole.url, { path: `/v2/${repo}/manifests/${reference}`, headers: { accept: ACCEPT_ALL } });
}

/** Copies `repo:tag` out of porthole into a new oci: layout and checks it is the fixture, digest for digest. */
async function assertRoundTrip(fixture: LayoutDescription, repo: string): Promise<void> {
  const out = join(suite.work, `out-${repo.replaceAll('/', '-')}`);
  const copyAll = fixture.index ? ['--all'] : [];
  await suite.sandbox.skopeo(['copy', '--quiet', ...copyAll, '--src-tls-verify=false', dockerRef(repo, fixture.tag), `oci:${out}:${fixture.tag}`]);
  const root = await layoutRoot(out, fixture.tag);
  assert.equal(root.digest, fixture.root.digest, 'the manifest came back byte for byte');
  assert.equal(root.mediaType, fixture.root.mediaType);
  assert.deepEqual(await layoutGraph(out, root.digest), await layoutGraph(fixture.dir, fixture.root.digest));
  assert.deepEqual(await storedBlobDigests(out), fixture.blobDigests, 'exactly the fixture blobs came back');
  assert.deepEqual(await corruptBlobs(out), []);
}

describe('skopeo against porthole', { timeout: 4 * TEST_TIMEOUT }, () => {
  test('a single-arch OCI image goes in and comes back out unchanged', { timeout: TEST_TIMEOUT }, async (t) => {
    if (!requireTools(t, 'skopeo')) return;
    const { single } = suite;
    await suite.pushed(single, 'e2e/single');

    const response = await getManifest('e2e/single', single.tag);
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], OCI_MEDIA_TYPES.manifest);
    assert.equal(response.headers['docker-content-digest'], single.root.digest);
    assert.equal(sha256Digest(response.body), single.root.digest);
    await assertRoundTrip(single, 'e2e/single');
  });

  test('a multi-arch index goes in with --all and comes back out unchanged', { timeout: TEST_TIMEOUT }, async (t) => {
    if (!requireTools(t, 'skopeo')) return;
    const { multi } = suite;
    await suite.pushed(multi, 'e2e/multi');

    const index = await getManifest('e2e/multi', multi.tag);
    assert.equal(index.status, 200);
    assert.equal(index.headers['content-type'], OCI_MEDIA_TYPES.index);
    assert.equal(index.headers['docker-content-digest'], multi.index?.digest);
    for (const image of multi.images) {
      const platformManifest = await getManifest('e2e/multi', image.manifest.digest);
      assert.equal(platformManifest.status, 200, `${image.platform.architecture} manifest is stored by digest`);
      assert.equal(platformManifest.headers['content-type'], OCI_MEDIA_TYPES.manifest);
    }
    await assertRoundTrip(multi, 'e2e/multi');
  });

  test('--format v2s2 stores a Docker manifest and serves it with the Docker media type', { timeout: TEST_TIMEOUT }, async (t) => {
    if (!requireTools(t, 'skopeo')) return;
    const { sandbox, work, single } = suite;
    await suite.pushed(single, 'e2e/docker', '--format', 'v2s2');

    const response = await getManifest('e2e/docker', single.tag);
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], DOCKER_MANIFEST);
    const digest = response.headers['docker-content-digest'];
    assert.equal(digest, sha256Digest(response.body));
    const manifest = response.json() as { mediaType: string; config: { digest: string }; layers: Array<{ digest: string }> };
    assert.equal(manifest.mediaType, DOCKER_MANIFEST);
    const image = single.images[0];
    assert.ok(image);
    assert.equal(manifest.config.digest, image.config.digest, 'the config bytes are unchanged by the conversion');
    assert.deepEqual(
      manifest.layers.map((l) => l.digest),
      image.layers.map((l) => l.digest),
    );

    // skopeo 1.9's oci: transport refuses Docker media types; dir: keeps the manifest as served.
    const out = join(work, 'out-docker');
    await sandbox.skopeo(['copy', '--quiet', '--src-tls-verify=false', dockerRef('e2e/docker', single.tag), `dir:${out}`]);
    assert.equal(sha256Digest(await readFile(join(out, 'manifest.json'))), digest);
    for (const blob of [image.config, ...image.layers]) {
      const file = join(out, blob.digest.slice('sha256:'.length));
      assert.equal(sha256Digest(await readFile(file)), blob.digest, `${blob.digest} came back intact`);
    }
  });

  test('--all --format v2s2 stores a Docker manifest list whose images are Docker manifests', { timeout: TEST_TIMEOUT }, async (t) => {
    if (!requireTools(t, 'skopeo')) return;
    const { multi } = suite;
    await suite.pushed(multi, 'e2e/docker-list', '--format', 'v2s2');

    const response = await getManifest('e2e/docker-list', multi.tag);
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], DOCKER_MANIFEST_LIST);
    assert.equal(response.headers['docker-content-digest'], sha256Digest(response.body));
    const list = response.json() as { mediaType: string; manifests: Array<{ mediaType: string; digest: string; platform: { architecture: string } }> };
    assert.equal(list.mediaType, DOCKER_MANIFEST_LIST);
    assert.deepEqual(
      list.manifests.map((m) => [m.mediaType, m.platform.architecture]),
      multi.images.map((image) => [DOCKER_MANIFEST, image.platform.architecture]),
    );
    for (const child of list.manifests) {
      const manifest = await getManifest('e2e/docker-list', child.digest);
      assert.equal(manifest.status, 200);
      assert.equal(manifest.headers['content-type'], DOCKER_MANIFEST, `${child.platform.architecture} is served as a Docker manifest`);
      assert.equal(sha256Digest(manifest.body), child.digest);
    }
  });

  test('inspect reports the pushed digests, platform, layers and config', { timeout: TEST_TIMEOUT }, async (t) => {
    if (!requireTools(t, 'skopeo')) return;
    const { porthole, sandbox, single, multi } = suite;
    await Promise.all([suite.pushed(single, 'e2e/single'), suite.pushed(multi, 'e2e/multi')]);
    const image = single.images[0];
    assert.ok(image);

    const inspected = parseSkopeoJson<SkopeoInspect>((await sandbox.skopeo(['inspect', '--tls-verify=false', dockerRef('e2e/single', single.tag)])).stdout);
    assert.equal(inspected.Name, `${porthole.host}/e2e/single`);
    assert.equal(inspected.Digest, single.root.digest);
    assert.equal(inspected.Architecture, 'amd64');
    assert.equal(inspected.Os, 'linux');
    assert.deepEqual(inspected.RepoTags, [single.tag]);
    assert.deepEqual(
      inspected.Layers,
      image.layers.map((l) => l.digest),
    );

    const rawManifest = (await sandbox.skopeo(['inspect', '--raw', '--tls-verify=false', dockerRef('e2e/single', single.tag)])).stdout;
    assert.equal(sha256Digest(Buffer.from(rawManifest)), single.root.digest, '--raw gives the manifest byte for byte');
    const config = parseSkopeoJson<SkopeoConfig>((await sandbox.skopeo(['inspect', '--config', '--tls-verify=false', dockerRef('e2e/single', single.tag)])).stdout);
    assert.equal(config.architecture, 'amd64');
    assert.deepEqual(config.rootfs.diff_ids, image.diffIds);

    const rawIndex = (await sandbox.skopeo(['inspect', '--raw', '--tls-verify=false', dockerRef('e2e/multi', multi.tag)])).stdout;
    assert.equal(sha256Digest(Buffer.from(rawIndex)), multi.index?.digest);
    const arm64 = multi.images.find((i) => i.platform.architecture === 'arm64');
    assert.ok(arm64);
    const arm = parseSkopeoJson<SkopeoInspect>((await sandbox.skopeo(['--override-arch', 'arm64', 'inspect', '--tls-verify=false', dockerRef('e2e/multi', multi.tag)])).stdout);
    assert.equal(arm.Architecture, 'arm64');
    assert.equal(arm.Digest, multi.index?.digest, 'skopeo reports the digest of what the tag names');
    assert.deepEqual(
      arm.Layers,
      arm64.layers.map((l) => l.digest),
    );
  });

  test('list-tags lists every tag of a repository', { timeout: TEST_TIMEOUT }, async (t) => {
    if (!requireTools(t, 'skopeo')) return;
    const { porthole, sandbox, single } = suite;
    await suite.pushed(single, 'e2e/tags');
    await sandbox.skopeo(['copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', dockerRef('e2e/tags', single.tag), dockerRef('e2e/tags', 'second')]);
    const listed = parseSkopeoJson<SkopeoTagList>((await sandbox.skopeo(['list-tags', '--tls-verify=false', `docker://${porthole.host}/e2e/tags`])).stdout);
    assert.equal(listed.Repository, `${porthole.host}/e2e/tags`);
    assert.deepEqual([...listed.Tags].sort(), ['second', single.tag].sort());
  });

  test('delete removes the manifest and its tag from that repository only', { timeout: TEST_TIMEOUT }, async (t) => {
    if (!requireTools(t, 'skopeo')) return;
    const { porthole, sandbox, single } = suite;
    await Promise.all([suite.pushed(single, 'e2e/single'), suite.pushed(single, 'e2e/doomed')]);
    await sandbox.skopeo(['delete', '--tls-verify=false', dockerRef('e2e/doomed', single.tag)]);

    const listed = parseSkopeoJson<SkopeoTagList>((await sandbox.skopeo(['list-tags', '--tls-verify=false', `docker://${porthole.host}/e2e/doomed`])).stdout);
    assert.deepEqual(listed.Tags, []);
    for (const reference of [single.tag, single.root.digest]) {
      const response = await getManifest('e2e/doomed', reference);
      assert.equal(response.status, 404, `GET manifests/${reference} after delete`);
      assert.deepEqual(errorCodes(response), ['MANIFEST_UNKNOWN']);
    }
    await assert.rejects(sandbox.skopeo(['inspect', '--tls-verify=false', dockerRef('e2e/doomed', single.tag)]), CommandError);
    assert.equal((await getManifest('e2e/single', single.root.digest)).status, 200, 'the same manifest in another repository is untouched');

    // Deleting a manifest keeps the repository's blobs; pushing the image again brings it back.
    await sandbox.skopeo(['copy', '--quiet', '--dest-tls-verify=false', `oci:${single.dir}:${single.tag}`, dockerRef('e2e/doomed', single.tag)]);
    assert.equal((await getManifest('e2e/doomed', single.tag)).headers['docker-content-digest'], single.root.digest);
  });

  test('copying between repositories mounts the layers instead of uploading them again', { timeout: TEST_TIMEOUT }, async (t) => {
    if (!requireTools(t, 'skopeo')) return;
    const { porthole, sandbox, single } = suite;
    await suite.pushed(single, 'e2e/single');
    // skopeo 1.9 only mounts blobs that containers/image's blob info cache (for root:
    // /var/lib/containers/cache, kept across runs) has seen in another repository of the same
    // registry; the push above recorded them. Where that cache cannot be written skopeo uploads
    // again and this test fails, which is what it is for: it must see porthole's mounts.
    await sandbox.skopeo(['copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', dockerRef('e2e/single', single.tag), dockerRef('e2e/copied', single.tag)]);
    const image = single.images[0];
    assert.ok(image);

    const log = await accessLogUntil(porthole.output, (l) => l.method === 'PUT' && l.path === `/v2/e2e/copied/manifests/${single.tag}`);
    assert.equal(log.at(-1)?.status, 201);
    assert.equal(log.filter(isMountInto('e2e/copied')).length, image.layers.length, 'one mount answered 201 per layer');
    assert.equal((await getManifest('e2e/copied', single.tag)).headers['docker-content-digest'], single.root.digest);

    const stored = await snapshotStored(porthole);
    const storage = driverOf(porthole.storage);
    for (const layer of image.layers) {
      const hex = layer.digest.slice('sha256:'.length);
      const copies = [...stored].filter(([, hash]) => hash === hex).map(([path]) => path);
      assert.deepEqual(copies, [`blobs/sha256/${hex.slice(0, 2)}/${hex}/data`], 'a single copy of the bytes');
      assert.ok((await storage.stat(`repositories/e2e/copied/_layers/sha256/${hex}`)) !== undefined, `${layer.digest} is linked into e2e/copied`);
    }
  });

  test('sync mirrors a multi-arch repository by mounting its layers', { timeout: TEST_TIMEOUT }, async (t) => {
    if (!requireTools(t, 'skopeo')) return;
    const { porthole, sandbox, multi } = suite;
    await suite.pushed(multi, 'e2e/multi');
    await sandbox.skopeo([
      'sync',
      '--all',
      '--src',
      'docker',
      '--dest',
      'docker',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `${porthole.host}/e2e/multi`,
      `${porthole.host}/e2e/mirror`,
    ]);

    const index = await getManifest('e2e/mirror/multi', multi.tag);
    assert.equal(index.status, 200);
    assert.equal(index.headers['docker-content-digest'], multi.index?.digest);
    for (const image of multi.images) assert.equal((await getManifest('e2e/mirror/multi', image.manifest.digest)).status, 200);

    const log = await accessLogUntil(porthole.output, (l) => l.method === 'PUT' && l.path === `/v2/e2e/mirror/multi/manifests/${multi.tag}`);
    const layers = multi.images.flatMap((i) => i.layers);
    assert.equal(log.filter(isMountInto('e2e/mirror/multi')).length, layers.length, 'one mount answered 201 per layer');
    const linked = await driverOf(porthole.storage).list('repositories/e2e/mirror/multi/_layers/sha256');
    for (const layer of layers) assert.ok(linked.includes(layer.digest.slice('sha256:'.length)), `${layer.digest} is linked into the mirror`);
  });

  // Last on purpose: after every push above, finished uploads must have left nothing behind.
  test('no upload sessions or staging files are left once the clients are done', async () => {
    const { porthole } = suite;
    assert.deepEqual(await driverOf(porthole.storage).list('uploads'), []);
    if (porthole.storage.driver === 'filesystem') assert.deepEqual(await readdir(join(porthole.root, '_tmp')), []);
  });
});
