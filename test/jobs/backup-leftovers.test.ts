import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LEFTOVER_PARTIAL_AGE_MS } from '../../src/jobs/archive/dated-archives.js';
import { cleanup, startPorthole, tempDir } from '../helpers/porthole-process.js';
import { makeImage } from '../helpers/registry-client.js';
import { runCli } from '../helpers/run-cli.js';

/** A partial file dated `ageMs` ago, as a backup killed then would have left it. */
async function leftover(path: string, ageMs: number): Promise<void> {
  await writeFile(path, 'part of an archive');
  const then = new Date(Date.now() - ageMs);
  await utimes(path, then, then);
}

/**
 * Partial files that killed backups left beside their archive (nothing else ever removes them,
 * and each can hold a whole backup's bytes) are removed by the next backup to the same target,
 * once old enough not to be another storage's backup still running; other files are left alone.
 */
describe('porthole backup: leftovers of killed backups', () => {
  let root: string;
  let backups: string;

  before(async () => {
    root = await tempDir('backup-leftovers');
    backups = join(root, '..', `${root.split('/').at(-1)}-archives`);
    await mkdir(backups);
    const serving = await startPorthole({ root });
    try {
      await makeImage(serving.url, 'team/app', { tag: 'v1' });
    } finally {
      await serving.stop();
    }
  });

  after(() => cleanup(root, backups));

  it('removes old partial files of the same target, and nothing else', async () => {
    const old = LEFTOVER_PARTIAL_AGE_MS + 60_000;
    const stale = join(backups, '.registry.tar.0a1b2c3d.partial');
    const young = join(backups, '.registry.tar.9f8e7d6c.partial');
    const otherTarget = join(backups, '.other.tar.0a1b2c3d.partial');
    const notOurs = join(backups, '.registry.tar.partial');
    await leftover(stale, old);
    await leftover(young, 60_000);
    await leftover(otherTarget, old);
    await leftover(notOurs, old);
    const result = await runCli(['backup', '--root', root, '--to', join(backups, 'registry.tar')]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout.trim()) as { removedPartials: number }).removedPartials, 1);
    assert.match(result.stderr, /left by a backup that was killed/);
    assert.ok(!existsSync(stale), 'the old partial file of this target is gone');
    for (const kept of [young, otherTarget, notOurs]) assert.ok(existsSync(kept), `${kept} is kept`);
    assert.ok(existsSync(join(backups, 'registry.tar')));
  });

  it('does the same for a dated target, whatever the date of the run that left it', async () => {
    const stale = join(backups, '.nightly-20261101T020000Z.tar.12345678.partial');
    await leftover(stale, LEFTOVER_PARTIAL_AGE_MS + 60_000);
    const serving = await startPorthole({
      root,
      config: `jobs:\n  backup: { every: 300ms, to: "${join(backups, 'nightly-{date}.tar')}", keep: 1 }\n`,
    });
    try {
      const deadline = Date.now() + 15_000;
      while (existsSync(stale) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await serving.stop();
    }
    assert.ok(!existsSync(stale), 'a scheduled backup removed it');
  });
});
