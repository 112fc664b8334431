import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

function codeOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/** Resolves when `path` is a directory now (made by us or by someone else); rejects otherwise. */
async function makeOne(path: string): Promise<void> {
  try {
    await mkdir(path);
  } catch (err) {
    if (codeOf(err) !== 'EEXIST') throw err;
    if (!(await stat(path)).isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${path}'`), { code: 'ENOTDIR', path });
  }
}

/**
 * Creates a directory and its missing parents, like `mkdir -p`, and fails where that cannot be
 * done. Node's own `mkdir(path, { recursive: true })` never settles under /proc or /sys: mkdir
 * answers ENOENT there although the parent exists, and Node takes ENOENT to mean "make the parent
 * first", for ever. Here each parent is made at most once, so a second ENOENT is final.
 */
export async function ensureDirectory(path: string): Promise<void> {
  const target = resolve(path);
  try {
    await makeOne(target);
    return;
  } catch (err) {
    const parent = dirname(target);
    if (codeOf(err) !== 'ENOENT' || parent === target) throw err;
    await ensureDirectory(parent);
  }
  await makeOne(target);
}
