import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { sha256Digest, type ImageDescription, type LayoutDescription } from '../fixtures/oci-layout.js';
import { rootfsFiles } from '../fixtures/rootfs-files.js';
import { seededBytes } from '../fixtures/seeded-bytes.js';
import { createTar } from '../fixtures/tar.js';
import { raw } from '../helpers/raw-http.js';
import { requireTools } from '../helpers/tools.js';
import { accessLogUntil } from './access-log.js';
import { useE2eSuite } from './e2e-suite.js';
import { PodmanStore } from './podman-store.js';

const TEST_TIMEOUT = 120_000;
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

/** The parts of `podman image inspect` (podman 4.3) the tests look at. */
interface PodmanImage {
  Id: string;
  Digest: string;
  RepoTags: string[];
  RepoDigests: string[];
  Architecture: string;
  Os: string;
  RootFS: { Type: string; Layers: string[] };
}

/** What a pulled image must be: its ID (the config digest's hex), platform, layers and files. */
interface Expected {
  id: string;
  architecture: string;
  os: string;
  diffIds: string[];
  files: Record<string, string>;
}

function expectedFrom(image: ImageDescription): Expected {
  return { id: image.config.digest.slice('sha256:'.length), ...image.platform, diffIds: image.diffIds, files: image.files };
}

const suite = useE2eSuite('e2e-podman', { single: { seed: 'podman-single', layers: 2, fileBytes: 48 * 1024 } });

async function withStore<T>(use: (store: PodmanStore) => Promise<T>): Promise<T> {
  const store = await PodmanStore.create(suite.sandbox);
  try {
    return await use(store);
  } finally {
    await store.dispose();
  }
}

async function inspectImage(store: PodmanStore, reference: string): Promise<PodmanImage> {
  const images = JSON.parse((await store.podman(['image', 'inspect', reference])).stdout) as PodmanImage[];
  assert.equal(images.length, 1);
  return images[0] as PodmanImage;
}

/** Pulls into a fresh store and checks what podman made of it, down to the unpacked files. */
async function assertPulled(reference: string, expected: Expected, pullFlags: string[] = []): Promise<PodmanImage> {
  return withStore(async (store) => {
    const pulled = await store.podman(['pull', '--quiet', '--tls-verify=false', ...pullFlags, reference]);
    assert.equal(pulled.stdout.trim(), expected.id, 'podman pull prints the image ID, the config digest');

    const image = await inspectImage(store, reference);
    assert.equal(image.Id, expected.id);
    assert.deepEqual(image.RepoTags, [reference]);
    assert.equal(image.Architecture, expected.architecture);
    assert.equal(image.Os, expected.os);
    assert.equal(image.RootFS.Type, 'layers');
    assert.deepEqual(image.RootFS.Layers, expected.diffIds);

    const mountPoint = (await store.podman(['image', 'mount', reference])).stdout.trim();
    try {
      assert.deepEqual(await rootfsFiles(mountPoint), expected.files);
    } finally {
      await store.podman(['image', 'unmount', reference]);
    }
    return image;
  });
}

function imageFor(fixture: LayoutDescription, architecture: string): ImageDescription {
  const image = fixture.images.find((i) => i.platform.architecture === architecture);
  assert.ok(image, `the fixture has a ${architecture} image`);
  return image;
}

function ready(t: TestContext): boolean {
  return requireTools(t, 'skopeo', 'podman');
}

describe('podman against porthole', { timeout: 4 * TEST_TIMEOUT }, () => {
  test('pulls a single-arch image: ID, digest, layers and files are what was pushed', { timeout: TEST_TIMEOUT }, async (t) => {
    if (!ready(t)) return;
    const { porthole, single } = suite;
    await suite.pushed(single, 'podman/single');
    const reference = `${porthole.host}/podman/single:${single.tag}`;
    const image = await assertPulled(reference, expectedFrom(imageFor(single, 'amd64')));
    assert.equal(image.Digest, single.root.digest);
    assert.deepEqual(image.RepoDigests, [`${porthole.host}/podman/single@${single.root.digest}`]);
  });

  test('pulls a Docker schema 2 image (pushed with --format v2s2)', { timeout: TEST_TIMEOUT }, async (t) => {
    if (!ready(t)) return;
    const { porthole, single } = suite;
    await suite.pushed(single, 'podman/docker', '--format', 'v2s2');
    const head = await raw(porthole.url, { method: 'HEAD', path: `/v2/podman/docker/manifests/${single.tag}` });
    assert.equal(head.headers['content-type'], DOCKER_MANIFEST);
    const reference = `${porthole.host}/podman/docker:${single.tag}`;
    const image = await assertPulled(reference, expectedFrom(imageFor(single, 'amd64')));
    assert.equal(image.Digest, head.headers['docker-content-digest']);
  });

  for (const architecture of ['amd64', 'arm64']) {
    test(`pulls the ${architecture} image of a multi-arch index with --arch ${architecture}`, { timeout: TEST_TIMEOUT }, async (t) => {
      if (!ready(t)) return;
      const { porthole, multi } = suite;
      await suite.pushed(multi, 'podman/multi');
      const expected = imageFor(multi, architecture);
      const reference = `${porthole.host}/podman/multi:${multi.tag}`;
      const image = await assertPulled(reference, expectedFrom(expected), ['--arch', architecture]);
      // podman records the image under both the index it was asked for and the manifest it chose.
      assert.equal(image.Digest, multi.index?.digest);
      assert.deepEqual(
        [...image.RepoDigests].sort(),
        [`${porthole.host}/podman/multi@${multi.index?.digest}`, `${porthole.host}/podman/multi@${expected.manifest.digest}`].sort(),
      );
    });
  }

  test('pushes an image it made itself, which pulls back identical', { timeout: TEST_TIMEOUT }, async (t) => {
    if (!ready(t)) return;
    const { porthole, work } = suite;
    // An image imported from a tar no registry has seen: podman must upload it (an image pulled
    // from porthole would only be mounted back, from containers/image's blob info cache).
    const content = seededBytes('podman-push', 256 * 1024);
    const tar = createTar([
      { path: 'data', type: 'directory' },
      { path: 'data/pushed.bin', type: 'file', content },
    ]);
    const tarFile = join(work, 'import.tar');
    await writeFile(tarFile, tar);
    const reference = `${porthole.host}/podman/pushed:v1`;

    const source = await withStore(async (store) => {
      await store.podman(['import', '--quiet', tarFile, reference]);
      const image = await inspectImage(store, reference);
      await store.podman(['push', '--quiet', '--tls-verify=false', reference]);
      return image;
    });
    const log = await accessLogUntil(porthole.output, (l) => l.method === 'PUT' && l.path === '/v2/podman/pushed/manifests/v1');
    assert.equal(log.at(-1)?.status, 201);
    const uploads = log.filter((l) => l.repo === 'podman/pushed' && l.method === 'PUT' && l.route === '/v2/:name/blobs/uploads/:id' && l.status === 201);
    assert.equal(uploads.length, 2, 'the layer and the config were uploaded');

    const image = await assertPulled(reference, {
      id: source.Id,
      architecture: source.Architecture,
      os: source.Os,
      diffIds: [sha256Digest(tar)],
      files: { 'data/pushed.bin': sha256Digest(content) },
    });
    assert.equal(image.Digest, (await raw(porthole.url, { method: 'HEAD', path: '/v2/podman/pushed/manifests/v1' })).headers['docker-content-digest']);
  });
});
