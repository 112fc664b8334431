import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildOciLayout, type BlobDescription, type ImageDescription, type LayoutDescription } from '../fixtures/oci-layout.js';
import { raw } from '../helpers/raw-http.js';
import { skipUnlessRoot, skipUnlessTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait-for.js';
import { portholeMetrics, upstreamServed } from '../proxy/proxy-fixture.js';
import { accessLines, type AccessLine } from './access-log.js';
import { SNAPSHOTTER, sharedContainerd } from './containerd-daemon.js';
import { writeMirrorHosts } from './containerd-hosts.js';
import { chainIdOf, committedSnapshots, contentDigests, imageRows, printedChainId, unpackedBy } from './ctr-output.js';
import { useE2eSuite } from './e2e-suite.js';

const TEST_TIMEOUT = 120_000;
/** The registry containerd is asked for; porthole caches the docker-registry upstream under this name. */
const MIRRORED = 'upstream.test';
const MIRRORED_REPO = `${MIRRORED}/lib/app`;

/** What a pull must have left in its containerd namespace. */
interface Expected {
  /** What the tag names: the image manifest, or the index of a multi-arch image. */
  target: BlobDescription;
  /** The platform ctr unpacks, as ctr prints it. */
  platform: string;
  image: ImageDescription;
  /** Every blob downloaded: the target, and the chosen image's manifest, config and layers. */
  content: string[];
}

function imageFor(fixture: LayoutDescription, architecture: string): ImageDescription {
  const image = fixture.images.find((i) => i.platform.architecture === architecture);
  assert.ok(image, `the fixture has a ${architecture} image`);
  return image;
}

/** The digests a pull of `image` under `target` downloads. */
function contentOf(target: BlobDescription, image: ImageDescription): string[] {
  return [...new Set([target.digest, image.manifest.digest, image.config.digest, ...image.layers.map((l) => l.digest)])].sort();
}

describe('containerd (ctr) against porthole', { timeout: 4 * TEST_TIMEOUT, skip: skipUnlessTools('containerd', 'ctr', 'docker-registry', 'skopeo') || skipUnlessRoot('containerd') }, () => {
  const suite = useE2eSuite('e2e-containerd', {
    single: { seed: 'containerd-single', layers: 2, fileBytes: 40 * 1024 },
    upstream: { namespace: MIRRORED, repos: { single: 'lib/app', multi: 'lib/app' } },
  });
  const containerd = sharedContainerd();

  /** The --hosts-dir that makes porthole containerd's mirror of upstream.test, written once. */
  let hostsDir: Promise<string> | undefined;
  function mirrorHosts(): Promise<string> {
    hostsDir ??= writeMirrorHosts(join(suite.work, 'hosts'), MIRRORED, suite.upstream.url, suite.porthole.url);
    return hostsDir;
  }

  /**
   * Pulls into a namespace of its own (`--platform` always given, so that the machine's own
   * platform does not matter) and checks everything containerd made of it: the digest it
   * reports, the image record, exactly the content it downloaded, and the unpacked layers.
   */
  async function assertPulled(namespace: string, reference: string, pullFlags: string[], expected: Expected): Promise<void> {
    const ctr = (args: string[]) => containerd().ctr(namespace, args);
    const pulled = await ctr(['images', 'pull', '--snapshotter', SNAPSHOTTER, '--platform', expected.platform, '--print-chainid', ...pullFlags, reference]);
    assert.deepEqual(unpackedBy(pulled.stdout), [{ platform: expected.platform, digest: expected.target.digest }], 'ctr reports the digest that was pushed');

    const rows = imageRows((await ctr(['images', 'ls'])).stdout);
    assert.deepEqual(
      rows.map((row) => [row.ref, row.mediaType, row.digest]),
      [[reference, expected.target.mediaType, expected.target.digest]],
    );
    assert.deepEqual(contentDigests((await ctr(['content', 'ls', '--quiet'])).stdout), expected.content, 'exactly the blobs of the chosen platform were downloaded');

    // containerd checks each unpacked layer against the config's diff IDs; the top snapshot is named by their chain.
    const chainId = chainIdOf(expected.image.diffIds);
    assert.equal(printedChainId(pulled.stdout), chainId);
    assert.ok(committedSnapshots((await ctr(['snapshots', '--snapshotter', SNAPSHOTTER, 'ls'])).stdout).includes(chainId), 'the layers were unpacked');
  }

  /** porthole's count of blobs it served for upstream.test, by where they came from. */
  async function blobPulls(): Promise<{ upstream: number; cache: number }> {
    const metrics = await portholeMetrics(suite.porthole.url);
    const count = (source: string) => metrics.value('porthole_proxy_pulls_total', { namespace: MIRRORED, type: 'blob', source }) ?? 0;
    return { upstream: count('upstream'), cache: count('cache') };
  }

  /**
   * The requests for the mirrored repository that porthole logged since `logOffset`, once it has
   * logged a GET of every blob in `blobs` (porthole logs a request when it is done, which can be
   * just after the client has all the bytes).
   */
  async function mirrorRequestsSince(logOffset: number, blobs: string[]): Promise<AccessLine[]> {
    const requests = () => accessLines(suite.porthole.output().slice(logOffset)).filter((line) => line.repo === MIRRORED_REPO);
    const blobGets = () => requests().filter((line) => line.method === 'GET' && line.route === '/v2/:name/blobs/:digest');
    await waitFor(`porthole to log containerd's GET of ${blobs.length} blobs (a missing one went to the server fallback, not porthole)`, () => blobs.every((digest) => blobGets().some((line) => line.path.endsWith(digest))), 10_000);
    return requests();
  }

  /**
   * Pulls `tag` of upstream.test/lib/app twice, each time into a fresh namespace, and checks that
   * both pulls went to porthole as containerd's mirror (so not to the `server` fallback): the
   * first fetched each blob from the upstream once, the second got them all from porthole's cache.
   */
  async function assertPulledTwiceThroughMirror(name: string, tag: string, expected: Expected): Promise<void> {
    const { porthole, upstream } = suite;
    const reference = `${MIRRORED_REPO}:${tag}`;
    const blobs = [expected.image.config, ...expected.image.layers].map((blob) => blob.digest).sort();
    const flags = ['--hosts-dir', await mirrorHosts()];

    const before = { pulls: await blobPulls(), upstream: await upstreamServed(upstream) };
    let logOffset = porthole.output().length;
    await assertPulled(`${name}-first`, reference, flags, expected);
    const first = await mirrorRequestsSince(logOffset, blobs);
    for (const line of first) {
      assert.equal(line.query, `ns=${MIRRORED}`, `${line.method} ${line.path}: containerd names the registry porthole stands in for`);
      assert.match(line.userAgent ?? '', /^containerd\//);
    }
    const blobsAsked = first.filter((line) => line.method === 'GET' && line.route === '/v2/:name/blobs/:digest');
    assert.deepEqual(blobsAsked.map((line) => line.path.slice(line.path.lastIndexOf('/') + 1)).sort(), blobs, 'porthole served each blob of the chosen platform once');
    assert.ok(blobsAsked.every((line) => line.status === 200));
    const afterFirst = { pulls: await blobPulls(), upstream: await upstreamServed(upstream) };
    assert.equal(afterFirst.pulls.upstream - before.pulls.upstream, blobs.length, 'porthole fetched each blob from upstream.test');
    assert.equal(afterFirst.pulls.cache, before.pulls.cache);
    assert.equal(afterFirst.upstream.blobGets - before.upstream.blobGets, blobs.length, 'the upstream served each blob once');
    const catalog = (await raw(porthole.url, { path: '/v2/_catalog' })).json() as { repositories: string[] };
    assert.ok(catalog.repositories.includes(MIRRORED_REPO), `porthole's catalog lists ${MIRRORED_REPO}: ${catalog.repositories.join(', ')}`);

    logOffset = porthole.output().length;
    await assertPulled(`${name}-again`, reference, flags, expected);
    const again = await mirrorRequestsSince(logOffset, blobs);
    assert.ok(again.every((line) => line.query === `ns=${MIRRORED}`));
    const afterAgain = { pulls: await blobPulls(), upstream: await upstreamServed(upstream) };
    assert.equal(afterAgain.pulls.cache - afterFirst.pulls.cache, blobs.length, 'porthole served every blob from its cache');
    assert.equal(afterAgain.pulls.upstream, afterFirst.pulls.upstream);
    assert.equal(afterAgain.upstream.blobGets, afterFirst.upstream.blobGets, 'nothing more was fetched from the upstream');
  }

  test('pulls an image hosted in porthole over plain HTTP, and reports the digest that was pushed', { timeout: TEST_TIMEOUT }, async () => {
    const { porthole, work } = suite;
    // An image of its own: had the mirror tests' blobs been pushed, porthole would hold them already.
    const hosted = await buildOciLayout({ dir: join(work, 'hosted'), tag: 'v1', seed: 'containerd-hosted', layers: 2, fileBytes: 40 * 1024 });
    await suite.pushed(hosted, 'ctr/hosted');
    const image = imageFor(hosted, 'amd64');
    await assertPulled('hosted', `${porthole.host}/ctr/hosted:v1`, ['--plain-http'], {
      target: hosted.root,
      platform: 'linux/amd64',
      image,
      content: contentOf(hosted.root, image),
    });
  });

  test(`pulls ${MIRRORED_REPO}:v1 through porthole as its mirror (?ns=${MIRRORED}), and again from porthole's cache`, { timeout: TEST_TIMEOUT }, async () => {
    const { single } = suite;
    const image = imageFor(single, 'amd64');
    await assertPulledTwiceThroughMirror('mirror-single', single.tag, { target: single.root, platform: 'linux/amd64', image, content: contentOf(single.root, image) });
  });

  test('pulls the linux/arm64 image of a multi-arch index through the mirror with --platform linux/arm64, and again from the cache', { timeout: TEST_TIMEOUT }, async () => {
    const { multi } = suite;
    assert.ok(multi.index);
    const arm64 = imageFor(multi, 'arm64');
    await assertPulledTwiceThroughMirror('mirror-arm64', multi.tag, { target: multi.index, platform: 'linux/arm64', image: arm64, content: contentOf(multi.index, arm64) });
  });
});
