import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { blobDataFiles, sha256File } from '../helpers/storage-tree.js';

/** Every blobs/<alg>/<xx>/<hex>/data hashes to <hex>: content-addressed storage never holds a partial or wrong file. */
export async function assertBlobStoreConsistent(root: string): Promise<number> {
  const files = await blobDataFiles(root);
  for (const file of files) {
    assert.equal(await sha256File(join(root, file.path), file.algorithm), file.hex, `${file.path} does not hash to its digest`);
  }
  return files.length;
}

/** Upload session ids present on disk. */
export async function sessionIds(root: string): Promise<string[]> {
  try {
    return await readdir(join(root, 'uploads'));
  } catch {
    return [];
  }
}

export async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}
