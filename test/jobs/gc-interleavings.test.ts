import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { digestOf, type Digest } from '../../src/core/digest.js';
import { FilesystemDriver } from '../../src/storage/filesystem/fs-driver.js';
import { ImageStore } from '../../src/storage/image-store/image-store.js';
import { USE_MARK_EVERY_MS } from '../../src/storage/image-store/parking.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const HOUR_MS = 3_600_000;

/**
 * The moves garbage collection makes while the registry serves, each put in the one order that a
 * concurrent run can only hit by chance: a request meeting content the collection has parked puts
 * it back, and the collection then leaves it; a HEAD marks an old blob used, at most once per
 * interval. Against the real store on a real filesystem, in one process.
 */
describe('garbage collection against requests that arrive in between', () => {
  let root: string;
  let store: ImageStore;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'porthole-gc-interleavings-'));
    store = new ImageStore(new FilesystemDriver(root));
    await store.init();
  });
  after(() => rm(root, { recursive: true, force: true }));

  let counter = 0;
  async function pushBlob(repo: string, data = Buffer.from(`blob ${counter++} ${Math.random()}`)): Promise<Digest> {
    const digest = digestOf(data);
    const session = await store.startUpload(repo);
    await store.finishUpload(repo, session.id, digest, { body: Readable.from([data]), options: {} });
    return digest;
  }

  async function pushImage(repo: string, reference: string): Promise<{ digest: Digest; bytes: Buffer }> {
    const config = Buffer.from(JSON.stringify({ nonce: counter++ }));
    await pushBlob(repo, config);
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config).value, size: config.length }, layers: [] }));
    await store.putManifest(repo, reference.startsWith('sha256:') ? { kind: 'digest', digest: digestOf(bytes) } : { kind: 'tag', tag: reference }, bytes, OCI_MANIFEST);
    return { digest: digestOf(bytes), bytes };
  }

  const dataPath = (digest: Digest) => join(root, 'blobs', digest.algorithm, digest.hex.slice(0, 2), digest.hex, 'data');
  async function setDataAge(digest: Digest, ageMs: number): Promise<void> {
    const then = new Date(Date.now() - ageMs);
    await utimes(dataPath(digest), then, then);
  }
  const dataAgeMs = async (digest: Digest) => Date.now() - (await stat(dataPath(digest))).mtimeMs;

  it('a HEAD marks an old blob used, and writes nothing while its mark is recent', async () => {
    const digest = await pushBlob('mark/a');
    await setDataAge(digest, 2 * HOUR_MS);
    assert.ok(await store.statBlob('mark/a', digest));
    assert.ok((await dataAgeMs(digest)) < 10_000, 'marked used now');
    await setDataAge(digest, USE_MARK_EVERY_MS / 2);
    assert.ok(await store.statBlob('mark/a', digest));
    assert.ok((await dataAgeMs(digest)) >= USE_MARK_EVERY_MS / 2 - 1000, 'a recent mark is not written again');
    // A HEAD in a repository that has no link to it marks it too: an upload of the same content follows.
    await setDataAge(digest, 2 * HOUR_MS);
    assert.equal(await store.statBlob('mark/elsewhere', digest), undefined);
    assert.ok((await dataAgeMs(digest)) < 10_000);
  });

  it('a mount marks the blob used', async () => {
    const digest = await pushBlob('mount/from');
    await setDataAge(digest, 2 * HOUR_MS);
    assert.ok(await store.mountBlob('mount/to', digest, 'mount/from'));
    assert.ok((await dataAgeMs(digest)) < 10_000);
  });

  it('a layer link parked by the collection is put back by a HEAD, and the collection then leaves it', async () => {
    const digest = await pushBlob('links/a');
    assert.equal(await store.contents.parkLink('links/a', digest), true);
    assert.ok(await store.statBlob('links/a', digest), 'HEAD finds the blob');
    assert.equal(await store.contents.dropParkedLink('links/a', digest), false, 'nothing parked left to drop');
    assert.ok(await store.statBlob('links/a', digest));
  });

  it('blob data parked while its link stands is put back by a HEAD and a GET, and the collection keeps it', async () => {
    const data = Buffer.from('parked while linked');
    const digest = await pushBlob('data/a', data);
    const freed = await store.contents.collectUnlessReferenced([digest], {
      referencedNow: async () => {
        assert.ok(await store.statBlob('data/a', digest), 'HEAD while the data is parked');
        const content = await store.openBlob('data/a', digest);
        assert.ok(content, 'GET while the data is parked');
        content.stream.destroy();
        return new Set();
      },
    });
    assert.deepEqual(freed, [], 'put back by the requests: not freed');
    assert.ok(await store.statBlob('data/a', digest));
  });

  it('an upload of the same content while the data is parked is stored, and the collection keeps it', async () => {
    const data = Buffer.from('old content pushed again');
    const digest = await pushBlob('upload/old', data);
    await store.deleteBlob('upload/old', digest);
    const freed = await store.contents.collectUnlessReferenced([digest], {
      referencedNow: async () => {
        await pushBlob('upload/new', data);
        return new Set();
      },
      inUse: () => false,
    });
    assert.deepEqual(freed, []);
    const content = await store.openBlob('upload/new', digest);
    assert.ok(content);
    content.stream.destroy();
  });

  it('an untagged manifest parked by the collection is put back by a GET, by a push with a tag, and by an index that lists it', async () => {
    const pulled = await pushImage('manifests/a', 'sha256:');
    assert.equal(await store.contents.parkRevision('manifests/a', pulled.digest), true);
    assert.ok(await store.getManifest('manifests/a', { kind: 'digest', digest: pulled.digest }), 'GET by digest finds it');
    assert.equal(await store.contents.dropParkedRevision('manifests/a', pulled.digest), false);

    const tagged = await pushImage('manifests/a', 'sha256:');
    assert.equal(await store.contents.parkRevision('manifests/a', tagged.digest), true);
    await store.putManifest('manifests/a', { kind: 'tag', tag: 'again' }, tagged.bytes, OCI_MANIFEST);
    await store.contents.dropParkedRevision('manifests/a', tagged.digest);
    assert.ok(await store.getManifest('manifests/a', { kind: 'tag', tag: 'again' }), 'the tag pushed meanwhile names a manifest that is there');

    const child = await pushImage('manifests/a', 'sha256:');
    assert.equal(await store.contents.parkRevision('manifests/a', child.digest), true);
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: child.digest.value, size: child.bytes.length }] }));
    await store.putManifest('manifests/a', { kind: 'tag', tag: 'multi' }, index, OCI_INDEX);
    assert.equal(await store.contents.dropParkedRevision('manifests/a', child.digest), false);
    assert.ok(await store.getManifest('manifests/a', { kind: 'digest', digest: child.digest }));
  });

  it('an index pushed while its child’s data is parked puts it back, and the collection keeps it', async () => {
    const child = await pushImage('manifests/b', 'sha256:');
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: child.digest.value, size: child.bytes.length }] }));
    const freed = await store.contents.collectUnlessReferenced([child.digest], {
      referencedNow: async () => {
        await store.putManifest('manifests/b', { kind: 'tag', tag: 'multi' }, index, OCI_INDEX);
        return new Set();
      },
    });
    assert.deepEqual(freed, []);
    assert.deepEqual((await store.getManifest('manifests/b', { kind: 'digest', digest: child.digest }))?.bytes, child.bytes);
  });
});
