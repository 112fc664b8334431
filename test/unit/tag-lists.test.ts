import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FilesystemDriver } from '../../src/storage/filesystem/fs-driver.js';
import { TagLists } from '../../src/storage/image-store/tag-lists.js';
import { layout } from '../../src/storage/layout.js';

const DIGEST = 'sha256:' + 'a'.repeat(64);

describe('tag lists kept in memory', () => {
  let root: string;
  let driver: FilesystemDriver;
  /** A second driver on the same root stands for another process writing the same storage. */
  let other: FilesystemDriver;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'porthole-tags-'));
    driver = new FilesystemDriver(root);
    other = new FilesystemDriver(root);
    await driver.init();
  });
  after(() => rm(root, { recursive: true, force: true }));

  const tag = (driverUsed: FilesystemDriver, repo: string, name: string) => driverUsed.writeAtomic(layout.tag(repo, name), DIGEST, { durable: false });
  /** Moves the tags directory's mtime into the past, past the racy window, as if written long ago. */
  const age = (repo: string) => utimes(join(root, layout.tagsDir(repo)), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));

  it('gives undefined for a repository without a tags directory, and sorted names without hidden files', async () => {
    const lists = new TagLists(driver);
    assert.equal(await lists.list('none/here'), undefined);
    for (const name of ['v2', 'latest', 'v10', '1.0']) await tag(driver, 'sorted/repo', name);
    await other.writeAtomic(`${layout.tagsDir('sorted/repo')}/.staging`, 'x', { durable: false });
    assert.deepEqual(await lists.list('sorted/repo'), ['1.0', 'latest', 'v10', 'v2']);
  });

  it('sees a change that left the mtime unchanged (a coarse clock) when the listing was read while that mtime was recent', async () => {
    const lists = new TagLists(driver);
    const dir = join(root, layout.tagsDir('racy/repo'));
    const tick = new Date(Date.now() - 500);
    await tag(driver, 'racy/repo', 'one');
    await utimes(dir, tick, tick);
    assert.deepEqual(await lists.list('racy/repo'), ['one']);
    await tag(other, 'racy/repo', 'two');
    await utimes(dir, tick, tick);
    assert.deepEqual(await lists.list('racy/repo'), ['one', 'two']);
  });

  it('answers from memory while the directory is unchanged, and re-reads after another writer adds or removes a tag', async () => {
    const lists = new TagLists(driver);
    await tag(driver, 'kept/repo', 'a');
    await tag(driver, 'kept/repo', 'b');
    await age('kept/repo');
    const first = await lists.list('kept/repo');
    assert.equal(await lists.list('kept/repo'), first, 'an unchanged directory is answered with the same listing');

    await tag(other, 'kept/repo', 'c');
    assert.deepEqual(await lists.list('kept/repo'), ['a', 'b', 'c']);
    await age('kept/repo');
    await lists.list('kept/repo');
    await other.remove(layout.tag('kept/repo', 'a'));
    assert.deepEqual(await lists.list('kept/repo'), ['b', 'c']);
    await other.remove(layout.tagsDir('kept/repo'));
    assert.equal(await lists.list('kept/repo'), undefined);
  });

  it('keeps at most maxTags names, dropping the least recently listed repository', async () => {
    const lists = new TagLists(driver, 3);
    for (const repo of ['lru/x', 'lru/y']) {
      await tag(driver, repo, 't1');
      await tag(driver, repo, 't2');
      await age(repo);
    }
    const x = await lists.list('lru/x');
    assert.equal(await lists.list('lru/x'), x);
    await lists.list('lru/y');
    assert.notEqual(await lists.list('lru/x'), x, 'x was dropped to make room for y, so it is read again');
    assert.deepEqual(await lists.list('lru/x'), ['t1', 't2']);
  });
});
