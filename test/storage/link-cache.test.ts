import assert from 'node:assert/strict';
import { utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FilesystemDriver } from '../../src/storage/filesystem/fs-driver.js';
import { LinkCache, LinkCachingDriver } from '../../src/storage/link-cache.js';
import { OCI_MANIFEST, makeImage } from '../helpers/registry-client.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';
import { runCli } from '../helpers/run-cli.js';

const TAG = 'repositories/team/app/_manifests/tags/v1';
const REVISION = 'repositories/team/app/_manifests/revisions/sha256/aa';
const OTHER = 'repositories/team/other/_manifests/tags/v1';
const LAYER = 'repositories/team/app/_layers/sha256/aaaa';
const DATA = 'blobs/sha256/aa/aaaa/data';

/** A caching driver over a filesystem driver in a fresh directory, following its change feed, for `test`. */
async function overRealDriver(name: string, test: (driver: LinkCachingDriver, root: string) => Promise<void>): Promise<void> {
  const root = await tempDir(name);
  const inner = new FilesystemDriver(root);
  const driver = new LinkCachingDriver(inner, inner.changes, (err) => assert.fail(err));
  try {
    await driver.init();
    await test(driver, root);
  } finally {
    driver.close();
    await cleanup(root);
  }
}

describe('the link cache: what it keeps and what each change makes it forget', () => {
  it('keeps tags and revisions only', () => {
    assert.ok(LinkCache.holds(TAG));
    assert.ok(LinkCache.holds(REVISION));
    assert.ok(!LinkCache.holds('repositories/team/app/_layers/sha256/aa'));
    assert.ok(!LinkCache.holds('blobs/sha256/aa/aa/data'));
  });

  it('forgets a link changed, a repository moved or removed whole, and nothing of other repositories', () => {
    const cache = new LinkCache();
    const fill = () => {
      for (const path of [TAG, REVISION, OTHER]) cache.keep(path, Buffer.from(path), cache.current);
    };
    fill();
    cache.forget(TAG);
    assert.equal(cache.get(TAG), undefined);
    assert.ok(cache.get(REVISION) && cache.get(OTHER));
    cache.forget('repositories/team/app/_layers/sha256/aa');
    assert.ok(cache.get(REVISION), 'a layer link changes no tag or revision');
    cache.forget('repositories/team/app/_manifests/revisions');
    assert.equal(cache.get(REVISION), undefined, 'a directory of revisions');
    fill();
    cache.forget('repositories/team/app');
    assert.equal(cache.get(TAG), undefined);
    assert.ok(cache.get(OTHER), 'another repository keeps its links');
    fill();
    cache.forget('repositories/team');
    assert.equal(cache.size.entries, 0, 'a namespace above both');
    fill();
    cache.clear();
    assert.equal(cache.size.entries, 0);
  });

  it('does not keep what a read brought when a change finished while it was reading', () => {
    const cache = new LinkCache();
    const began = cache.current;
    cache.forget(TAG);
    cache.keep(TAG, Buffer.from('old'), began);
    assert.equal(cache.get(TAG), undefined);
  });

  it('keeps layer links and blob data as stat sees them, and nothing else so', () => {
    assert.ok(LinkCache.holdsStat(LAYER));
    assert.ok(LinkCache.holdsStat(DATA));
    assert.ok(!LinkCache.holdsStat(TAG));
    assert.ok(!LinkCache.holdsStat('blobs/sha256/aa/aaaa'));
    assert.ok(!LinkCache.holdsStat('uploads/1/data'));
  });

  it("forgets a layer link changed, a repository's layers removed whole, and a blob's data changed or moved", () => {
    const cache = new LinkCache();
    const stat = { size: 1, modifiedMs: 1 };
    const fill = () => {
      cache.keep(LAYER, stat, cache.current);
      cache.keep(DATA, stat, cache.current);
      cache.keep(TAG, Buffer.from('t'), cache.current);
    };
    fill();
    cache.forget(LAYER);
    assert.equal(cache.get(LAYER), undefined);
    assert.ok(cache.get(TAG), "the repository's tags stay");
    fill();
    cache.forget('repositories/team/app/_layers');
    assert.equal(cache.get(LAYER), undefined, 'the layers directory removed whole');
    assert.ok(cache.get(DATA), 'the data is no layer link');
    cache.forget(DATA);
    assert.equal(cache.get(DATA), undefined, 'the data committed again');
    fill();
    cache.forget('blobs/sha256/aa/aaaa');
    assert.equal(cache.get(DATA), undefined, "the blob's directory moved (parked)");
    assert.ok(cache.get(LAYER));
    fill();
    cache.forget('blobs');
    assert.equal(cache.get(DATA), undefined, 'every blob');
  });

  it('over a real driver: a stat from memory until this process changes the object, a use mark forgotten once written', () =>
    overRealDriver('stat-cache', async (driver, root) => {
      await driver.writeAtomic(DATA, 'data');
      const first = await driver.statKept(DATA);
      assert.ok(first);
      // Behind porthole's back (nothing porthole does moves a mark backwards): memory answers.
      const hourAgo = new Date(Date.now() - 3_600_000);
      await utimes(join(root, DATA), hourAgo, hourAgo);
      assert.deepEqual(await driver.statKept(DATA), first, 'from memory');
      assert.ok(await driver.touch(DATA));
      const marked = await driver.statKept(DATA);
      assert.ok(marked && marked.modifiedMs >= first.modifiedMs - 1000, 'the mark as touch wrote it, read again');
      await driver.writeAtomic(LAYER, 'sha256:aaaa');
      assert.ok(await driver.statKept(LAYER));
      await driver.remove(LAYER);
      assert.equal(await driver.statKept(LAYER), undefined, 'unlinked through this process');
    }));

  it('over a real driver: readFromMemory and statFromMemory answer only what a read or stat brought, and nothing once it changes', () =>
    overRealDriver('read-kept', async (driver) => {
      await driver.writeAtomic(TAG, 'sha256:aaaa');
      assert.equal(driver.readFromMemory(TAG), undefined, 'nothing kept before a read');
      const read = await driver.read(TAG);
      assert.equal(driver.readFromMemory(TAG), read, 'the very bytes the read brought');
      await driver.writeAtomic(TAG, 'sha256:bbbb');
      assert.equal(driver.readFromMemory(TAG), undefined, 'forgotten when this process moves the tag');
      assert.equal((await driver.read(TAG))?.toString(), 'sha256:bbbb');
      await driver.writeAtomic(LAYER, 'sha256:aaaa');
      assert.equal(driver.statFromMemory(LAYER), undefined, 'nothing kept before a stat');
      const stat = await driver.statKept(LAYER);
      assert.ok(stat);
      assert.equal(driver.statFromMemory(LAYER), stat, 'the stat as kept');
      assert.equal(driver.readFromMemory(LAYER), undefined, 'a stat kept is no read');
      assert.equal(driver.statFromMemory(TAG), undefined, 'a read kept is no stat');
      await driver.remove(LAYER);
      assert.equal(driver.statFromMemory(LAYER), undefined, 'forgotten when this process unlinks it');
      driver.close();
      assert.equal(driver.readFromMemory(TAG), undefined, 'nothing once the feed is no longer followed');
    }));

  it('stays within its bound, dropping the repositories filled longest ago', () => {
    const cache = new LinkCache(3);
    for (const repo of ['a', 'b', 'c', 'd']) cache.keep(`repositories/${repo}/_manifests/tags/v1`, Buffer.from(repo), cache.current);
    assert.equal(cache.size.entries, 3);
    assert.equal(cache.get('repositories/a/_manifests/tags/v1'), undefined);
    assert.ok(cache.get('repositories/d/_manifests/tags/v1'));
  });
});

describe('serve keeps tags, revisions and blob stats in memory, and a CLI job beside it changes them', () => {
  let work: string;
  let serve: PortholeProcess;
  let elsewhere: PortholeProcess;

  const config = async (name: string, root: string): Promise<string> => {
    const file = join(work, `${name}.yaml`);
    await writeFile(file, `storage:\n  filesystem:\n    rootDirectory: ${root}\nlog:\n  level: warn\n`);
    return file;
  };
  const digestOfTag = async (tag: string): Promise<string | undefined> => {
    const response = await raw(serve.url, { path: `/v2/team/app/manifests/${tag}`, headers: { accept: OCI_MANIFEST } });
    return response.status === 200 ? String(response.headers['docker-content-digest']) : `status ${response.status}`;
  };

  before(async () => {
    work = await tempDir('link-cache');
    serve = await startPorthole();
    elsewhere = await startPorthole();
  });
  after(async () => {
    await serve?.stop();
    await elsewhere?.stop();
    await cleanup(work);
  });

  it('serves a tag that a restore moved as soon as the restore has exited, every time', async () => {
    const first = await makeImage(serve.url, 'team/app', { tag: 'v1' });
    assert.equal(await digestOfTag('v1'), first.manifestDigest);
    assert.equal(await digestOfTag('v1'), first.manifestDigest, 'from memory now');
    for (let round = 0; round < 3; round += 1) {
      const moved = await makeImage(elsewhere.url, 'team/app', { tag: 'v1' });
      const archive = join(work, `round-${round}.tar`);
      const backup = await runCli(['backup', '--to', archive, '--config', await config(`backup-${round}`, elsewhere.root)]);
      assert.equal(backup.code, 0, backup.stderr);
      const restore = await runCli(['restore', '--from', archive, '--overwrite', '--config', await config(`restore-${round}`, serve.root)]);
      assert.equal(restore.code, 0, restore.stderr);
      assert.equal(await digestOfTag('v1'), moved.manifestDigest, `round ${round}: the tag as the restore left it`);
    }
  });

  it('no longer serves a manifest that garbage collection removed beside it', async () => {
    const untagged = await makeImage(serve.url, 'team/app');
    assert.equal(await digestOfTag(untagged.manifestDigest), untagged.manifestDigest);
    assert.equal(await digestOfTag(untagged.manifestDigest), untagged.manifestDigest, 'from memory now');
    const gc = await runCli(['gc', '--untagged', '--grace', '0s', '--config', await config('gc', serve.root)]);
    assert.equal(gc.code, 0, gc.stderr);
    assert.equal(await digestOfTag(untagged.manifestDigest), 'status 404');
  });

  it('no longer finds a blob that garbage collection removed beside it', async () => {
    const untagged = await makeImage(serve.url, 'team/blobs');
    const head = async (): Promise<number> => (await raw(serve.url, { method: 'HEAD', path: `/v2/team/blobs/blobs/${untagged.layerDigest}` })).status;
    assert.equal(await head(), 200);
    assert.equal(await head(), 200, 'from memory now');
    const gc = await runCli(['gc', '--untagged', '--grace', '0s', '--config', await config('gc-blobs', serve.root)]);
    assert.equal(gc.code, 0, gc.stderr);
    assert.equal(await head(), 404);
  });

  it('no longer finds a blob deleted through its own API', async () => {
    const image = await makeImage(serve.url, 'team/deleted', { tag: 'v1' });
    const path = `/v2/team/deleted/blobs/${image.layerDigest}`;
    assert.equal((await raw(serve.url, { method: 'HEAD', path })).status, 200);
    assert.equal((await raw(serve.url, { method: 'HEAD', path })).status, 200, 'from memory now');
    assert.equal((await raw(serve.url, { method: 'DELETE', path })).status, 202);
    assert.equal((await raw(serve.url, { method: 'HEAD', path })).status, 404);
    assert.equal((await raw(serve.url, { method: 'GET', path })).status, 404);
  });

  it('serves a tag deleted and pushed again through its own API as it now is', async () => {
    const image = await makeImage(serve.url, 'team/app', { tag: 'v2' });
    assert.equal(await digestOfTag('v2'), image.manifestDigest);
    const deleted = await raw(serve.url, { method: 'DELETE', path: `/v2/team/app/manifests/${image.manifestDigest}` });
    assert.equal(deleted.status, 202);
    assert.equal(await digestOfTag('v2'), 'status 404');
    const again = await makeImage(serve.url, 'team/app', { tag: 'v2' });
    assert.equal(await digestOfTag('v2'), again.manifestDigest);
  });
});
