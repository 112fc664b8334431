import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { assertError, assertStatus, header } from '../helpers/assert-registry.js';
import { raw } from '../helpers/raw-http.js';
import { socketExchange } from '../helpers/raw-socket.js';
import {
  descriptor,
  digestOf,
  DOCKER_CONFIG,
  DOCKER_LAYER,
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  makeImage,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
  pushBlob,
  pushManifest,
  putManifest,
} from '../helpers/registry-client.js';
import { sharedPorthole } from '../helpers/shared-porthole.js';

/** Spec "Pushing Manifests" and "Pulling manifests", for every manifest type porthole stores. */
const porthole = sharedPorthole();
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/**
 * Serialised with odd indentation and a trailing newline: a registry that re-serialised the
 * JSON would change these bytes (spec: "store the manifest in the exact byte representation").
 */
function unusualBytes(json: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(json, null, 3)}\n`);
}

async function assertServedExactly(name: string, reference: string, bytes: Buffer, mediaType: string): Promise<void> {
  const response = await raw(porthole().url, { path: `/v2/${name}/manifests/${reference}`, headers: { accept: mediaType } });
  assertStatus(response, 200);
  assert.equal(header(response, 'content-type'), mediaType);
  assert.equal(header(response, 'docker-content-digest'), digestOf(bytes));
  assert.equal(header(response, 'content-length'), String(bytes.length));
  assert.ok(response.body.equals(bytes), `manifest ${reference} is not served byte for byte`);
}

async function dockerImage(name: string) {
  const config = Buffer.from(JSON.stringify({ architecture: 'arm64', os: 'linux', nonce: randomBytes(4).toString('hex') }));
  const layer = randomBytes(600);
  await pushBlob(porthole().url, name, config);
  await pushBlob(porthole().url, name, layer);
  const bytes = unusualBytes({ schemaVersion: 2, mediaType: DOCKER_MANIFEST, config: descriptor(DOCKER_CONFIG, config), layers: [descriptor(DOCKER_LAYER, layer)] });
  return { bytes, digest: digestOf(bytes) };
}

/** A valid image manifest of exactly `size` bytes, padded with an annotation. */
function manifestOfSize(size: number, config: Buffer, layer: Buffer): Buffer {
  const build = (padding: string): Buffer => {
    const json = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(OCI_CONFIG, config), layers: [descriptor(OCI_LAYER, layer)], annotations: { padding } };
    return Buffer.from(JSON.stringify(json));
  };
  const bare = build('').length;
  return build('x'.repeat(size - bare));
}

describe('manifest types', () => {
  it('stores an OCI image manifest and serves it byte for byte, by tag and by digest', async () => {
    const image = await makeImage(porthole().url, 'spec/manifests/oci');
    const bytes = unusualBytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(OCI_CONFIG, image.config), layers: [descriptor(OCI_LAYER, image.layer)] });
    const pushed = await pushManifest(porthole().url, 'spec/manifests/oci', 'v1', bytes, OCI_MANIFEST);
    assert.equal(header(pushed.response, 'location'), `/v2/spec/manifests/oci/manifests/${digestOf(bytes)}`);
    assert.equal(header(pushed.response, 'docker-content-digest'), digestOf(bytes));
    await assertServedExactly('spec/manifests/oci', 'v1', bytes, OCI_MANIFEST);
    await assertServedExactly('spec/manifests/oci', digestOf(bytes), bytes, OCI_MANIFEST);
  });

  it('stores an OCI image index of images in the repository', async () => {
    const amd = await makeImage(porthole().url, 'spec/manifests/index');
    const arm = await makeImage(porthole().url, 'spec/manifests/index');
    const bytes = unusualBytes({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { ...amd.descriptor, platform: { architecture: 'amd64', os: 'linux' } },
        { ...arm.descriptor, platform: { architecture: 'arm64', os: 'linux' } },
      ],
    });
    await pushManifest(porthole().url, 'spec/manifests/index', 'multi', bytes, OCI_INDEX);
    await assertServedExactly('spec/manifests/index', 'multi', bytes, OCI_INDEX);
    await assertServedExactly('spec/manifests/index', digestOf(bytes), bytes, OCI_INDEX);
  });

  it('stores a Docker image manifest (v2 schema 2) with its Docker media type', async () => {
    const image = await dockerImage('spec/manifests/docker');
    await pushManifest(porthole().url, 'spec/manifests/docker', 'v2', image.bytes, DOCKER_MANIFEST);
    await assertServedExactly('spec/manifests/docker', 'v2', image.bytes, DOCKER_MANIFEST);
    await assertServedExactly('spec/manifests/docker', image.digest, image.bytes, DOCKER_MANIFEST);
  });

  it('stores a Docker manifest list of Docker images', async () => {
    const first = await dockerImage('spec/manifests/docker-list');
    const second = await dockerImage('spec/manifests/docker-list');
    await pushManifest(porthole().url, 'spec/manifests/docker-list', first.digest, first.bytes, DOCKER_MANIFEST);
    await pushManifest(porthole().url, 'spec/manifests/docker-list', second.digest, second.bytes, DOCKER_MANIFEST);
    const bytes = unusualBytes({
      schemaVersion: 2,
      mediaType: DOCKER_MANIFEST_LIST,
      manifests: [
        { mediaType: DOCKER_MANIFEST, digest: first.digest, size: first.bytes.length, platform: { architecture: 'arm64', os: 'linux' } },
        { mediaType: DOCKER_MANIFEST, digest: second.digest, size: second.bytes.length, platform: { architecture: 'amd64', os: 'linux' } },
      ],
    });
    await pushManifest(porthole().url, 'spec/manifests/docker-list', 'list', bytes, DOCKER_MANIFEST_LIST);
    await assertServedExactly('spec/manifests/docker-list', 'list', bytes, DOCKER_MANIFEST_LIST);
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const image = await makeImage(porthole().url, 'spec/manifests/head', { tag: 'latest' });
    for (const reference of ['latest', image.manifestDigest]) {
      const response = await raw(porthole().url, { method: 'HEAD', path: `/v2/spec/manifests/head/manifests/${reference}` });
      assertStatus(response, 200);
      assert.equal(response.body.length, 0);
      assert.equal(header(response, 'content-length'), String(image.manifest.length));
      assert.equal(header(response, 'docker-content-digest'), image.manifestDigest);
      assert.equal(header(response, 'content-type'), OCI_MANIFEST);
    }
    const missing = await raw(porthole().url, { method: 'HEAD', path: '/v2/spec/manifests/head/manifests/absent' });
    assertStatus(missing, 404);
    assert.equal(missing.body.length, 0);
  });
});

describe('Content-Type of a pushed manifest', () => {
  it('ignores parameters on the Content-Type and serves the bare media type', async () => {
    const image = await makeImage(porthole().url, 'spec/manifests/content-type');
    assertStatus(await putManifest(porthole().url, 'spec/manifests/content-type', 'params', image.manifest, `${OCI_MANIFEST}; charset=utf-8`), 201);
    await assertServedExactly('spec/manifests/content-type', 'params', image.manifest, OCI_MANIFEST);
  });

  it('takes the mediaType field when the Content-Type is not a manifest type', async () => {
    const image = await makeImage(porthole().url, 'spec/manifests/content-type');
    assertStatus(await putManifest(porthole().url, 'spec/manifests/content-type', 'generic', image.manifest, 'application/json'), 201);
    await assertServedExactly('spec/manifests/content-type', 'generic', image.manifest, OCI_MANIFEST);
  });
});

describe('repository names at the edges of the grammar', () => {
  const longest = `spec/${'a'.repeat(120)}/${'b'.repeat(129)}`;
  for (const name of ['spec/a__b/c--d/e.f_g', longest]) {
    it(`stores and serves an image in "${name.length > 40 ? `${name.slice(0, 20)}... (${name.length} characters)` : name}"`, async () => {
      const image = await makeImage(porthole().url, name, { tag: 'edge' });
      await assertServedExactly(name, 'edge', image.manifest, OCI_MANIFEST);
    });
  }
});

describe('pushing by digest and with tags', () => {
  it('takes a manifest pushed by digest (201, Location and Docker-Content-Digest of that digest)', async () => {
    const image = await makeImage(porthole().url, 'spec/manifests/by-digest');
    const bytes = unusualBytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(OCI_CONFIG, image.config), layers: [] });
    const digest = digestOf(bytes);
    const response = await putManifest(porthole().url, 'spec/manifests/by-digest', digest, bytes, OCI_MANIFEST);
    assertStatus(response, 201);
    assert.equal(header(response, 'location'), `/v2/spec/manifests/by-digest/manifests/${digest}`);
    assert.equal(header(response, 'docker-content-digest'), digest);
    assert.equal(header(response, 'oci-tag'), undefined);
    await assertServedExactly('spec/manifests/by-digest', digest, bytes, OCI_MANIFEST);
  });

  it('creates every ?tag= of a push by digest and names them in OCI-Tag', async () => {
    const image = await makeImage(porthole().url, 'spec/manifests/tagged');
    const response = await putManifest(porthole().url, 'spec/manifests/tagged', `${image.manifestDigest}?tag=a&tag=b`, image.manifest, OCI_MANIFEST);
    assertStatus(response, 201);
    const ociTags = header(response, 'oci-tag')?.split(',').map((tag) => tag.trim());
    assert.deepEqual(ociTags, ['a', 'b']);
    for (const tag of ['a', 'b']) await assertServedExactly('spec/manifests/tagged', tag, image.manifest, OCI_MANIFEST);
    const tags = await raw(porthole().url, { path: '/v2/spec/manifests/tagged/tags/list' });
    assert.deepEqual(tags.json(), { name: 'spec/manifests/tagged', tags: ['a', 'b'] });
  });

  it('moves a tag to the manifest pushed last under it', async () => {
    const first = await makeImage(porthole().url, 'spec/manifests/retag', { tag: 'moving' });
    const second = await makeImage(porthole().url, 'spec/manifests/retag', { tag: 'moving' });
    await assertServedExactly('spec/manifests/retag', 'moving', second.manifest, OCI_MANIFEST);
    await assertServedExactly('spec/manifests/retag', first.manifestDigest, first.manifest, OCI_MANIFEST);
  });
});

describe('manifest size limit', () => {
  it('accepts a manifest of exactly 4 MiB (spec: at least 4 megabytes must work)', async () => {
    const image = await makeImage(porthole().url, 'spec/manifests/large');
    const bytes = manifestOfSize(MAX_MANIFEST_BYTES, image.config, image.layer);
    assert.equal(bytes.length, MAX_MANIFEST_BYTES);
    assertStatus(await putManifest(porthole().url, 'spec/manifests/large', 'four-mib', bytes, OCI_MANIFEST), 201);
    await assertServedExactly('spec/manifests/large', 'four-mib', bytes, OCI_MANIFEST);
  });

  it('answers 413 to a manifest one byte over 4 MiB and stores nothing', async () => {
    const image = await makeImage(porthole().url, 'spec/manifests/large');
    const bytes = manifestOfSize(MAX_MANIFEST_BYTES + 1, image.config, image.layer);
    // Over a raw socket: porthole answers before reading the body, which node:http cannot survive.
    const [response] = await socketExchange(porthole().url, {
      method: 'PUT',
      path: '/v2/spec/manifests/large/manifests/too-big',
      headers: { 'content-type': OCI_MANIFEST, 'content-length': bytes.length },
      body: bytes,
    });
    assert.ok(response, 'no answer to the oversized manifest');
    assertError(response, 413, 'MANIFEST_INVALID');
    assertError(await raw(porthole().url, { path: '/v2/spec/manifests/large/manifests/too-big' }), 404, 'MANIFEST_UNKNOWN');
  });
});

describe('references to missing content (MANIFEST_BLOB_UNKNOWN)', () => {
  it('rejects an image whose layer is not in the repository', async () => {
    const config = Buffer.from('{"os":"linux"}');
    await pushBlob(porthole().url, 'spec/manifests/missing', config);
    const bytes = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(OCI_CONFIG, config), layers: [descriptor(OCI_LAYER, randomBytes(10))] });
    assertError(await putManifest(porthole().url, 'spec/manifests/missing', 'no-layer', bytes, OCI_MANIFEST), 400, 'MANIFEST_BLOB_UNKNOWN');
  });

  it('rejects an image whose config is not in the repository', async () => {
    const layer = randomBytes(10);
    await pushBlob(porthole().url, 'spec/manifests/missing', layer);
    const bytes = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(OCI_CONFIG, randomBytes(5)), layers: [descriptor(OCI_LAYER, layer)] });
    assertError(await putManifest(porthole().url, 'spec/manifests/missing', 'no-config', bytes, OCI_MANIFEST), 400, 'MANIFEST_BLOB_UNKNOWN');
  });

  it('reports one MANIFEST_BLOB_UNKNOWN per missing blob', async () => {
    const bytes = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: descriptor(OCI_CONFIG, randomBytes(5)),
      layers: [descriptor(OCI_LAYER, randomBytes(6)), descriptor(OCI_LAYER, randomBytes(7))],
    });
    const response = await putManifest(porthole().url, 'spec/manifests/missing', 'nothing', bytes, OCI_MANIFEST);
    assertError(response, 400, 'MANIFEST_BLOB_UNKNOWN', 'MANIFEST_BLOB_UNKNOWN', 'MANIFEST_BLOB_UNKNOWN');
  });

  it('rejects a blob that exists only in another repository', async () => {
    const image = await makeImage(porthole().url, 'spec/manifests/elsewhere');
    const response = await putManifest(porthole().url, 'spec/manifests/missing', 'foreign', image.manifest, OCI_MANIFEST);
    assertError(response, 400, 'MANIFEST_BLOB_UNKNOWN', 'MANIFEST_BLOB_UNKNOWN');
  });

  it('rejects an index whose child manifest is not in the repository', async () => {
    const image = await makeImage(porthole().url, 'spec/manifests/elsewhere');
    const bytes = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [image.descriptor] });
    assertError(await putManifest(porthole().url, 'spec/manifests/missing', 'no-child', bytes, OCI_INDEX), 400, 'MANIFEST_BLOB_UNKNOWN');
    assertStatus(await putManifest(porthole().url, 'spec/manifests/elsewhere', 'index', bytes, OCI_INDEX), 201);
  });

  it('accepts a non-distributable layer that carries urls without the blob being pushed', async () => {
    const config = Buffer.from('{"os":"windows"}');
    await pushBlob(porthole().url, 'spec/manifests/foreign-layer', config);
    const foreign = { ...descriptor('application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', randomBytes(50)), urls: ['https://example.com/layer'] };
    const bytes = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(OCI_CONFIG, config), layers: [foreign] });
    assertStatus(await putManifest(porthole().url, 'spec/manifests/foreign-layer', 'win', bytes, OCI_MANIFEST), 201);
  });
});
