import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { digestOf } from '../../src/core/digest.js';
import { isRegistryError } from '../../src/core/errors.js';
import { FilesystemDriver } from '../../src/storage/filesystem/fs-driver.js';
import { ImageStore } from '../../src/storage/image-store/image-store.js';

/**
 * The life of upload sessions around a restart, on the image store itself: a new ImageStore over
 * the same root is what a restarted process sees. (The crash suite does the same with kill -9.)
 */
describe('upload sessions across a restart', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'porthole-sessions-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const storeOn = async (): Promise<ImageStore> => {
    const store = new ImageStore(new FilesystemDriver(root));
    await store.init();
    return store;
  };
  const body = (text: string) => ({ body: Readable.from([Buffer.from(text)]), options: {} });

  it('removes one-shot sessions at start-up and keeps resumable ones with their bytes', async () => {
    const before = await storeOn();
    const oneShot = await before.startUpload('app', 'sha256', { oneShot: true });
    await before.appendUpload('app', oneShot.id, body('half a blob').body, {});
    const resumable = await before.startUpload('app');
    await before.appendUpload('app', resumable.id, body('acknowledged').body, {});

    const after = await storeOn();
    assert.equal(await after.getUpload('app', oneShot.id), undefined);
    assert.deepEqual(await after.getUpload('app', resumable.id), { id: resumable.id, repo: 'app', size: 'acknowledged'.length });
    assert.deepEqual(await readdir(join(root, 'uploads')), [resumable.id]);
    await after.cancelUpload('app', resumable.id);
  });

  it('answers a retried finish from the completion record, and forgets the record when it expires', async () => {
    const store = await storeOn();
    const digest = digestOf(Buffer.from('a blob'));
    const session = await store.startUpload('app');
    assert.deepEqual(await store.finishUpload('app', session.id, digest, body('a blob')), { digest, size: 6 });
    const restarted = await storeOn();
    assert.deepEqual(await restarted.finishUpload('app', session.id, digest), { digest, size: 6 });
    assert.equal(await restarted.getUpload('app', session.id), undefined, 'the session itself is gone');

    assert.equal(await restarted.purgeUploads(60_000), 0);
    assert.deepEqual(await readdir(join(root, 'completed-uploads')), [session.id], 'a fresh record is kept');
    await restarted.purgeUploads(-1);
    assert.deepEqual(await readdir(join(root, 'completed-uploads')), []);
    await assert.rejects(restarted.finishUpload('app', session.id, digest), (err) => isRegistryError(err) && err.code === 'BLOB_UPLOAD_UNKNOWN');
  });
});
