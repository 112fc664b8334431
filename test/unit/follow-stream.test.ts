import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Readable } from 'node:stream';
import { FilesystemDriver } from '../../src/storage/filesystem/fs-driver.js';
import { HandFedFile } from '../helpers/hand-fed-file.js';

/** Everything a stream gives until it ends or fails (bounded, so that a hang fails the test). */
async function drain(stream: Readable): Promise<{ bytes: Buffer; error?: Error }> {
  const chunks: Buffer[] = [];
  const bound = setTimeout(() => stream.destroy(new Error('the stream neither ended nor failed within 5 s')), 5000);
  try {
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return { bytes: Buffer.concat(chunks) };
  } catch (err) {
    return { bytes: Buffer.concat(chunks), error: err as Error };
  } finally {
    clearTimeout(bound);
  }
}

describe('following a file that is still being written', () => {
  let root: string;
  let driver: FilesystemDriver;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'porthole-follow-'));
    driver = new FilesystemDriver(root, { zeroCopy: false });
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('reads as far as the writer says, waits, and goes on across the move to the final place', async () => {
    const data = Buffer.from('0123456789abcdefghij');
    const file = new HandFedFile('growing-1');
    const reading = drain(driver.followStream(file, { start: 0, end: data.length - 1 }));
    await writeFile(join(root, 'growing-1'), data.subarray(0, 8));
    file.written = 8;
    file.announce();
    // Grown as a writer grows it: appended to, never truncated.
    await appendFile(join(root, 'growing-1'), data.subarray(8));
    await rename(join(root, 'growing-1'), join(root, 'final-1'));
    file.where = 'final-1';
    file.written = data.length;
    file.done = true;
    file.announce();
    const { bytes, error } = await reading;
    assert.equal(error, undefined);
    assert.deepEqual(bytes, data);
  });

  it('fails, never ends early, when the file is cut back before the failure is announced', async () => {
    await writeFile(join(root, 'cut'), Buffer.alloc(4096, 1));
    const file = new HandFedFile('cut');
    file.written = 4096;
    await truncate(join(root, 'cut'), 1024);
    const { bytes, error } = await drain(driver.followStream(file, { start: 0, end: 8191 }));
    assert.ok(error, `an error, not an end after ${bytes.length} bytes`);
  });

  it('fails, never hangs, when the file is gone and its writer has failed or finished', async () => {
    const failed = new HandFedFile('never-there');
    failed.written = 10;
    const opening = drain(driver.followStream(failed, { start: 0, end: 99 }));
    failed.error = new Error('the upstream went away');
    failed.announce();
    assert.equal((await opening).error?.message, 'the upstream went away');

    const finished = new HandFedFile('also-never-there');
    finished.written = 10;
    finished.done = true;
    assert.match((await drain(driver.followStream(finished, { start: 0, end: 9 }))).error?.message ?? '', /ENOENT/);
  });

  it('gives an empty range without waiting for anything', async () => {
    const { bytes, error } = await drain(driver.followStream(new HandFedFile('empty'), { start: 0, end: -1 }));
    assert.equal(error, undefined);
    assert.equal(bytes.length, 0);
  });
});
