import { copyFile, link, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseDigest } from '../../src/core/digest.js';
import { layout } from '../../src/storage/layout.js';

/**
 * A registry's read paths as static files, for nginx (nginx.ts) to serve at the same URLs as
 * porthole: /v2/<repo>/blobs/<digest> and /v2/<repo>/manifests/<tag or digest>, under `root`.
 */
export class StaticMirror {
  constructor(
    readonly root: string,
    /** The storage root of the porthole whose blob files are served. */
    private readonly storageRoot: string,
  ) {}

  private async place(path: string): Promise<string> {
    const file = join(this.root, path);
    await mkdir(dirname(file), { recursive: true, mode: 0o755 });
    return file;
  }

  /**
   * The blob's own file in porthole's storage, hard-linked (copied where the link cannot be
   * made, across filesystems): the very same bytes, from the same page cache.
   */
  async blob(repo: string, digest: string): Promise<void> {
    const target = await this.place(`v2/${repo}/blobs/${digest}`);
    const source = join(this.storageRoot, layout.blobData(parseDigest(digest)));
    try {
      await link(source, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      await copyFile(source, target);
    }
  }

  /** The manifest's bytes under each of `references` (its tag, its digest). */
  async manifest(repo: string, references: string[], bytes: Buffer): Promise<void> {
    for (const reference of references) await writeFile(await this.place(`v2/${repo}/manifests/${reference}`), bytes, { mode: 0o644 });
  }
}
