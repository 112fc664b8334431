import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRegistryError } from '../../src/core/errors.js';
import { MAX_MANIFEST_BYTES, parseManifest, requiredBlobs } from '../../src/core/manifest.js';
import { MEDIA_TYPES } from '../../src/core/media-types.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const config = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('c'), size: 10 };
const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('1'), size: 20 };
const image = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, config, layers: [layer] };
const bytes = (value: unknown) => Buffer.from(JSON.stringify(value));

function rejects(body: Buffer, contentType: string | undefined, message: RegExp, status = 400): void {
  assert.throws(
    () => parseManifest(body, contentType),
    (err: unknown) => isRegistryError(err) && err.code === 'MANIFEST_INVALID' && err.status === status && message.test(err.message),
  );
}

describe('manifest validation', () => {
  it('parses an OCI image manifest: blobs are config then layers, artifactType falls back to the config type', () => {
    const m = parseManifest(bytes(image), MEDIA_TYPES.ociManifest);
    assert.equal(m.kind, 'image');
    assert.deepEqual(m.blobs.map((b) => b.digest.value), [d('c'), d('1')]);
    assert.equal(m.artifactType, config.mediaType);
  });

  it('parses an OCI index and a Docker manifest list', () => {
    const index = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [{ mediaType: MEDIA_TYPES.ociManifest, digest: d('2'), size: 5 }] };
    const m = parseManifest(bytes(index), MEDIA_TYPES.ociIndex);
    assert.equal(m.kind, 'index');
    assert.equal(m.manifests.length, 1);
    assert.equal(m.artifactType, undefined);
    const list = { ...index, mediaType: MEDIA_TYPES.dockerManifestList };
    assert.equal(parseManifest(bytes(list), MEDIA_TYPES.dockerManifestList).mediaType, MEDIA_TYPES.dockerManifestList);
  });

  it('parses a Docker schema 2 manifest', () => {
    const docker = { ...image, mediaType: MEDIA_TYPES.dockerManifest };
    assert.equal(parseManifest(bytes(docker), `${MEDIA_TYPES.dockerManifest}; charset=utf-8`).kind, 'image');
  });

  it('takes the subject, an explicit artifactType and annotations', () => {
    const artifact = { ...image, artifactType: 'application/vnd.example.sbom', subject: { mediaType: MEDIA_TYPES.ociManifest, digest: d('9'), size: 3 }, annotations: { a: 'b' } };
    const m = parseManifest(bytes(artifact), MEDIA_TYPES.ociManifest);
    assert.equal(m.subject?.digest.value, d('9'));
    assert.equal(m.artifactType, 'application/vnd.example.sbom');
    assert.deepEqual(m.annotations, { a: 'b' });
  });

  it('infers the type from mediaType, then from structure, when Content-Type is not a manifest type', () => {
    assert.equal(parseManifest(bytes(image), undefined).mediaType, MEDIA_TYPES.ociManifest);
    const { mediaType: _omit, ...untyped } = image;
    assert.equal(parseManifest(bytes(untyped), 'application/json').mediaType, MEDIA_TYPES.ociManifest);
  });

  it('skips foreign layers (with urls) when listing blobs that must exist', () => {
    const foreign = { ...layer, digest: d('f'), urls: ['https://example.invalid/layer'] };
    const m = parseManifest(bytes({ ...image, layers: [layer, foreign] }), MEDIA_TYPES.ociManifest);
    assert.deepEqual(requiredBlobs(m).map((b) => b.digest.value), [d('c'), d('1')]);
  });

  it('rejects bad manifests with MANIFEST_INVALID and a message naming the fault', () => {
    rejects(Buffer.from('{not json'), MEDIA_TYPES.ociManifest, /not valid JSON/);
    rejects(bytes([image]), MEDIA_TYPES.ociManifest, /JSON object/);
    rejects(bytes({ ...image, schemaVersion: 1 }), MEDIA_TYPES.ociManifest, /schema 1/);
    rejects(bytes({ ...image, schemaVersion: 3 }), MEDIA_TYPES.ociManifest, /schemaVersion/);
    rejects(bytes({ ...image, config: undefined }), MEDIA_TYPES.ociManifest, /config must be a descriptor/);
    rejects(bytes({ ...image, layers: 'x' }), MEDIA_TYPES.ociManifest, /layers must be an array/);
    rejects(bytes({ ...image, layers: [{ ...layer, digest: 'sha256:zz' }] }), MEDIA_TYPES.ociManifest, /layers\[0\]\.digest/);
    rejects(bytes({ ...image, layers: [{ ...layer, size: -1 }] }), MEDIA_TYPES.ociManifest, /layers\[0\]\.size/);
    rejects(bytes({ ...image, layers: [{ ...layer, size: 1.5 }] }), MEDIA_TYPES.ociManifest, /size/);
    rejects(bytes({ ...image, layers: [{ ...layer, mediaType: '' }] }), MEDIA_TYPES.ociManifest, /mediaType/);
    rejects(bytes(image), MEDIA_TYPES.ociIndex, /does not match Content-Type/);
    rejects(bytes({ ...image, mediaType: 'application/vnd.example' }), undefined, /unsupported manifest media type/);
    rejects(bytes({ ...image, manifests: [] }), MEDIA_TYPES.ociManifest, /must not have "manifests"/);
    rejects(bytes({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [], config }), MEDIA_TYPES.ociIndex, /must not have "config"/);
    rejects(bytes({ ...image, annotations: { a: 1 } }), MEDIA_TYPES.ociManifest, /annotations/);
    rejects(bytes({ ...image, subject: { digest: d('1') } }), MEDIA_TYPES.ociManifest, /subject\.mediaType/);
    rejects(bytes({ schemaVersion: 2 }), 'text/plain', /cannot tell the manifest type/);
  });

  it('answers 413 for a manifest over 4 MiB', () => {
    rejects(Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20), MEDIA_TYPES.ociManifest, /larger than/, 413);
  });
});
