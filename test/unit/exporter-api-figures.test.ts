import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManifestCache } from '../../src/exporter/api/manifest-cache.js';
import { parseManifestEntry } from '../../src/exporter/api/manifest-kind.js';
import { boundRepositories, repositoryFigures } from '../../src/exporter/api/repository-figures.js';

const d = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

function image(config: number, layers: number[], extra: Record<string, unknown> = {}, configType = OCI_CONFIG, mediaType = OCI_MANIFEST): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType,
    config: { mediaType: configType, digest: d(config), size: config * 10 },
    layers: layers.map((n) => ({ mediaType: LAYER, digest: d(n), size: n * 100 })),
    ...extra,
  });
}

function index(children: number[], mediaType = OCI_INDEX): string {
  return JSON.stringify({ schemaVersion: 2, mediaType, manifests: children.map((n) => ({ mediaType: OCI_MANIFEST, digest: d(n), size: 1 })) });
}

describe('porthole-exporter api: manifest classes', () => {
  it('images: OCI and Docker schema 2 with an image config', () => {
    assert.equal(parseManifestEntry(image(1, [2])).kind, 'image');
    assert.equal(parseManifestEntry(image(1, [2], {}, DOCKER_CONFIG, DOCKER_MANIFEST)).kind, 'image');
    // No mediaType in the body: the Content-Type header says it, else the shape.
    const bare = JSON.stringify({ schemaVersion: 2, config: { mediaType: OCI_CONFIG, digest: d(1), size: 5 }, layers: [] });
    assert.equal(parseManifestEntry(bare, `${OCI_MANIFEST}; charset=utf-8`).kind, 'image');
    assert.equal(parseManifestEntry(bare).kind, 'image');
  });

  it('indexes: OCI image index and Docker manifest list, with their children', () => {
    const oci = parseManifestEntry(index([5, 6]));
    assert.deepEqual([oci.kind, oci.children.map((c) => c.digest)], ['index', [d(5), d(6)]]);
    assert.equal(parseManifestEntry(index([5], DOCKER_LIST)).kind, 'index');
    assert.equal(parseManifestEntry(JSON.stringify({ schemaVersion: 2, manifests: [] }), 'application/json').kind, 'index');
  });

  it('artifacts: an artifactType, or a config that is not an image config', () => {
    assert.equal(parseManifestEntry(image(1, [2], { artifactType: 'application/vnd.example.sbom' })).kind, 'artifact');
    assert.equal(parseManifestEntry(image(1, [2], {}, 'application/vnd.cncf.helm.config.v1+json')).kind, 'artifact');
    assert.equal(parseManifestEntry(image(1, [], {}, 'application/vnd.oci.empty.v1+json')).kind, 'artifact');
    const rc = JSON.stringify({ mediaType: 'application/vnd.oci.artifact.manifest.v1+json', artifactType: 'x', blobs: [{ mediaType: 'x', digest: d(9), size: 900 }] });
    assert.deepEqual(parseManifestEntry(rc), { kind: 'artifact', blobs: [{ digest: d(9), size: 900 }], children: [] });
  });

  it('refuses what is not a manifest', () => {
    assert.throws(() => parseManifestEntry('<html>oops</html>'), /not JSON/);
    assert.throws(() => parseManifestEntry('[1,2]'), /not a JSON object/);
    assert.throws(() => parseManifestEntry(JSON.stringify({ hello: 'world' })), /not an image manifest or index/);
  });
});

describe('porthole-exporter api: repository sizes', () => {
  /** Puts a manifest of `text` under digest `n`, as a fetch would. */
  function put(cache: ManifestCache, n: number, text: string): void {
    cache.put(d(n), Buffer.byteLength(text), parseManifestEntry(text));
  }

  it('sums each distinct digest once: tagged manifests, index children, configs and layers', () => {
    const cache = new ManifestCache();
    const amd = image(1, [2, 3]); // config 10 bytes, layers 200 and 300
    const arm = image(4, [2, 5]); // shares layer 2
    const list = index([100, 101]);
    put(cache, 100, amd);
    put(cache, 101, arm);
    put(cache, 200, list);
    const live = new Set<string>();
    // Tags: v1 -> the index, v2 and latest -> the amd64 image (reached twice, counted once).
    const figures = repositoryFigures('team/app', 3, [d(200), d(100), d(100)], cache, live);
    const expected = Buffer.byteLength(list) + Buffer.byteLength(amd) + Buffer.byteLength(arm) + 10 + 200 + 300 + 40 + 500;
    assert.equal(figures.sizeBytes, expected);
    assert.equal(figures.tags, 3);
    assert.deepEqual(figures.manifests, { image: 2, index: 1, artifact: 0 });
    assert.deepEqual([...live].sort(), [d(100), d(101), d(200)]);
    // Another repository with the same image counts it again: sizes and counts are per repository.
    const other = repositoryFigures('mirror/app', 1, [d(100)], cache, live);
    assert.equal(other.sizeBytes, Buffer.byteLength(amd) + 510);
    assert.deepEqual(other.manifests, { image: 1, index: 0, artifact: 0 });
  });

  it('an index child the registry lacks counts nothing', () => {
    const cache = new ManifestCache();
    const list = index([100, 101]);
    const amd = image(1, [2]);
    put(cache, 100, amd);
    put(cache, 200, list);
    const figures = repositoryFigures('partial', 1, [d(200)], cache, new Set());
    assert.equal(figures.sizeBytes, Buffer.byteLength(list) + Buffer.byteLength(amd) + 10 + 200);
    assert.deepEqual(figures.manifests, { image: 1, index: 1, artifact: 0 });
  });

  it('bounds the labels: the largest repositories by size keep theirs, the rest are summed as _other', () => {
    const figures = [
      { name: 'a', tags: 1, sizeBytes: 10, manifests: { image: 1, index: 0, artifact: 0 } },
      { name: 'b', tags: 2, sizeBytes: 30, manifests: { image: 1, index: 0, artifact: 0 } },
      { name: 'c', tags: 3, sizeBytes: 20, manifests: { image: 1, index: 0, artifact: 0 } },
      { name: 'd', tags: 4, sizeBytes: 20, manifests: { image: 1, index: 0, artifact: 0 } },
    ];
    const bounded = boundRepositories(figures, 2);
    assert.deepEqual(bounded.labelled.map((f) => f.name), ['b', 'c']);
    assert.deepEqual(bounded.other, { tags: 5, sizeBytes: 30, repositories: 2 });
    assert.equal(boundRepositories(figures, 4).other, undefined);
    assert.deepEqual(boundRepositories(figures, 0).other, { tags: 10, sizeBytes: 80, repositories: 4 });
  });

  it('prune keeps what tags reach and forgets the rest', () => {
    const cache = new ManifestCache();
    put(cache, 100, image(1, [2]));
    put(cache, 101, image(3, [4]));
    assert.equal(cache.prune(new Set([d(100)])), 1);
    assert.equal(cache.has(d(101)), false);
    assert.equal(cache.get(d(100))?.blobs[1], d(2));
  });
});
