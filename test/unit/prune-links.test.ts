import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { digestOf } from '../../src/core/digest.js';
import { FilesystemDriver } from '../../src/storage/filesystem/fs-driver.js';
import { ImageStore } from '../../src/storage/image-store/image-store.js';

/**
 * Pruning frees blob data while pushes and mounts may link the same content. Whatever the order,
 * no link may be reported to a client while its data is gone.
 */
describe('pruning blob data against concurrent links', () => {
  let root: string;
  let store: ImageStore;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'porthole-prune-links-'));
    store = new ImageStore(new FilesystemDriver(root));
    await store.init();
  });
  after(() => rm(root, { recursive: true, force: true }));

  async function push(repo: string, data: Buffer): Promise<void> {
    const session = await store.startUpload(repo);
    await store.finishUpload(repo, session.id, digestOf(data), { body: Readable.from([data]), options: {} });
  }

  it('puts the data back when a link appears during the last check', async () => {
    const data = Buffer.from('shared layer, linked while pruned');
    const digest = digestOf(data);
    await push('cache/a', data);
    await store.deleteBlob('cache/a', digest);
    const freed = await store.contents.freeUnlessReferenced([digest], async () => {
      // A mount made while the data is parked: it must see the data gone, and the check sees its link.
      const mounted = await store.mountBlob('hosted/b', digest, 'cache/a');
      assert.equal(mounted, undefined, 'the source has no link any more');
      await push('hosted/c', data);
      return new Set((await store.contents.referenced('hosted/c')).map((linked) => linked.value));
    });
    assert.equal(freed, 0);
    const content = await store.openBlob('hosted/c', digest);
    assert.ok(content, 'the push that linked it can be pulled');
    content.stream.destroy();
  });

  it('refuses a mount of data removed since the source was checked, instead of linking nothing', async () => {
    const data = Buffer.from('layer removed between the check and the link');
    const digest = digestOf(data);
    await push('cache/d', data);
    // The data goes while the link in cache/d still stands (a prune that is about to unlink it).
    const freed = await store.contents.freeUnlessReferenced([digest], async () => new Set());
    assert.equal(freed, data.length);
    assert.equal(await store.mountBlob('hosted/e', digest, 'cache/d'), undefined);
    assert.equal(await store.statBlob('hosted/e', digest), undefined, 'no link was left behind');
  });

  it('a manifest whose content was pruned can be pushed again', async () => {
    const layer = Buffer.from('layer of a manifest');
    await push('hosted/f', layer);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: digestOf(layer).value, size: layer.length },
        layers: [],
      }),
    );
    await store.putManifest('hosted/f', { kind: 'tag', tag: 'v1' }, manifest, 'application/vnd.oci.image.manifest.v1+json');
    const digest = digestOf(manifest);
    await store.deleteManifest('hosted/f', digest);
    await store.contents.freeUnlessReferenced([digest], async () => new Set());
    await store.putManifest('hosted/f', { kind: 'tag', tag: 'v1' }, manifest, 'application/vnd.oci.image.manifest.v1+json');
    assert.deepEqual((await store.getManifest('hosted/f', { kind: 'tag', tag: 'v1' }))?.bytes, manifest);
  });
});
