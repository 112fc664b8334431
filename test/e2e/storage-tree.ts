import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';

async function regularFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map(async (entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return regularFiles(path);
      return entry.isFile() ? [path] : [];
    }),
  );
  return nested.flat();
}

/**
 * Every file under porthole's storage root holding exactly the bytes of `digest`, relative to
 * the root. Only files of the right size are hashed, so this stays cheap on small test roots.
 */
export async function copiesOf(root: string, digest: string, size: number): Promise<string[]> {
  const copies: string[] = [];
  for (const file of await regularFiles(root)) {
    if ((await stat(file)).size !== size) continue;
    const hex = createHash('sha256').update(await readFile(file)).digest('hex');
    if (`sha256:${hex}` === digest) copies.push(relative(root, file));
  }
  return copies;
}
