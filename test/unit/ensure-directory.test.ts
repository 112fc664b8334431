import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ensureDirectory } from '../../src/storage/filesystem/ensure-directory.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';

function codeOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

describe('ensureDirectory', () => {
  it('creates missing parents, and accepts a directory that exists', async () => {
    const dir = await tempDir('ensure-dir');
    const nested = join(dir, 'a', 'b', 'c');
    await ensureDirectory(nested);
    assert.ok((await stat(nested)).isDirectory());
    await ensureDirectory(nested);
    await cleanup(dir);
  });

  it('refuses a path whose parent is a file', async () => {
    const dir = await tempDir('ensure-dir');
    await writeFile(join(dir, 'file'), 'x');
    await assert.rejects(ensureDirectory(join(dir, 'file', 'data')), (err) => codeOf(err) === 'ENOTDIR');
    await assert.rejects(ensureDirectory(join(dir, 'file')), (err) => codeOf(err) === 'ENOTDIR');
    await cleanup(dir);
  });

  // Node's recursive mkdir never settles here; this one must fail.
  it('fails under /proc, where mkdir answers ENOENT although the parent exists', { skip: !existsSync('/proc/self') && 'no /proc here' }, async () => {
    await assert.rejects(ensureDirectory('/proc/porthole-nope/data'), (err) => codeOf(err) === 'ENOENT');
  });
});
