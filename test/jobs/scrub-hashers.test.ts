import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tryParseDigest, type Digest } from '../../src/core/digest.js';
import { driverStreamHasher } from '../../src/jobs/scrub/driver-stream-hasher.js';
import { localFileHasher, READ_BYTES } from '../../src/jobs/scrub/local-file-hasher.js';
import { QUARANTINE_PREFIX, quarantineDir, removeCorrupt, settleQuarantined } from '../../src/jobs/scrub/repair.js';
import { FilesystemDriver } from '../../src/storage/filesystem/fs-driver.js';
import { layout } from '../../src/storage/layout.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';

const running = new AbortController().signal;

function digestOf(bytes: Buffer, algorithm: 'sha256' | 'sha512' = 'sha256'): Digest {
  return tryParseDigest(`${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`) as Digest;
}

/**
 * The pieces of `porthole scrub` on a real filesystem driver in a temp dir: both ways of hashing
 * a stored file, and a repair's second look (test/jobs/scrub.test.ts runs the whole job).
 */
describe('scrub: hashing stored files and repairing', () => {
  let root: string;
  let driver: FilesystemDriver;

  async function store(bytes: Buffer, algorithm: 'sha256' | 'sha512' = 'sha256'): Promise<Digest> {
    const digest = digestOf(bytes, algorithm);
    await mkdir(join(root, layout.blobDir(digest)), { recursive: true });
    await writeFile(join(root, layout.blobData(digest)), bytes);
    return digest;
  }

  before(async () => {
    root = await tempDir('scrub-hashers');
    driver = new FilesystemDriver(root);
    await driver.init();
  });

  after(() => cleanup(root));

  it('hashes sha256 and sha512 files across read boundaries alike, directly and through the driver', async () => {
    for (const [size, algorithm] of [[0, 'sha256'], [READ_BYTES, 'sha256'], [2 * READ_BYTES + 17, 'sha256'], [READ_BYTES + 1, 'sha512']] as const) {
      const bytes = randomBytes(size);
      const digest = await store(bytes, algorithm);
      for (const hasher of [localFileHasher(root), driverStreamHasher(driver)]) {
        assert.deepEqual(await hasher.hash(layout.blobData(digest), algorithm, running), { state: 'hashed', hex: digest.hex, bytes: size }, `${size} bytes, ${algorithm}`);
      }
    }
  });

  it('calls a file that is not there missing, and stops when told to', async () => {
    const absent = digestOf(Buffer.from('never stored'));
    const digest = await store(randomBytes(3 * READ_BYTES));
    const stopped = new AbortController();
    stopped.abort();
    for (const hasher of [localFileHasher(root), driverStreamHasher(driver)]) {
      assert.equal((await hasher.hash(layout.blobData(absent), 'sha256', running)).state, 'missing');
      assert.equal((await hasher.hash(layout.blobData(digest), 'sha256', stopped.signal)).state, 'stopped');
    }
  });

  it('a repair removes bytes that are still wrong, and puts back bytes that turned out whole', async () => {
    const hasher = localFileHasher(root);
    const bad = await store(randomBytes(5000));
    const path = join(root, layout.blobData(bad));
    const bytes = await readFile(path);
    bytes[7] = (bytes[7] ?? 0) ^ 0xff;
    await writeFile(path, bytes);
    assert.deepEqual(await removeCorrupt(driver, hasher, bad), { outcome: 'removed', bytes: 5000 });
    assert.equal(await driver.stat(layout.blobData(bad)), undefined);
    const prefixDir = quarantineDir(bad).slice(0, quarantineDir(bad).lastIndexOf('/'));
    assert.deepEqual((await driver.list(prefixDir)).filter((entry) => entry.startsWith(QUARANTINE_PREFIX)), [], 'nothing left aside');

    // Good bytes stored since the first look (or a read that failed once): kept where they were.
    const good = await store(randomBytes(5000));
    assert.equal((await removeCorrupt(driver, hasher, good)).outcome, 'whole');
    assert.equal((await hasher.hash(layout.blobData(good), 'sha256', running)).state, 'hashed');

    // A blob left aside by a scrub that was killed, while a push stored the same bytes again.
    const twice = await store(randomBytes(5000));
    await driver.renameDirectory(layout.blobDir(twice), quarantineDir(twice));
    await store(await readFile(join(root, quarantineDir(twice), 'data')));
    assert.equal((await settleQuarantined(driver, hasher, twice)).outcome, 'whole');
    assert.equal(await driver.stat(`${quarantineDir(twice)}/data`), undefined);
    assert.equal((await driver.stat(layout.blobData(twice)))?.size, 5000);

    assert.equal((await removeCorrupt(driver, hasher, digestOf(Buffer.from('never stored')))).outcome, 'gone');
  });
});
