import type { Digest } from '../../core/digest.js';
import type { Driver } from '../driver.js';
import { layout } from '../layout.js';
import type { BlobContent, BlobInfo, RangeChooser } from '../types.js';

/** Content-addressed blob data, and the per-repository links that make a blob visible there. */
export class BlobLinks {
  constructor(private readonly driver: Driver) {}

  async isLinked(repo: string, digest: Digest): Promise<boolean> {
    return (await this.driver.stat(layout.blobLink(repo, digest))) !== undefined;
  }

  /** Size of the stored data, regardless of links. */
  async dataSize(digest: Digest): Promise<number | undefined> {
    return (await this.driver.stat(layout.blobData(digest)))?.size;
  }

  async stat(repo: string, digest: Digest): Promise<BlobInfo | undefined> {
    if (!(await this.isLinked(repo, digest))) return undefined;
    const size = await this.dataSize(digest);
    return size === undefined ? undefined : { digest, size };
  }

  async open(repo: string, digest: Digest, chooseRange?: RangeChooser): Promise<BlobContent | undefined> {
    const info = await this.stat(repo, digest);
    if (!info) return undefined;
    return { ...info, stream: this.driver.readStream(layout.blobData(digest), chooseRange?.(info.size)) };
  }

  /** Links durably; a link that exists already is left alone (no needless fsync). */
  async link(repo: string, digest: Digest): Promise<void> {
    if (await this.isLinked(repo, digest)) return;
    await this.driver.writeAtomic(layout.blobLink(repo, digest), digest.value);
  }

  async unlink(repo: string, digest: Digest): Promise<boolean> {
    if (!(await this.isLinked(repo, digest))) return false;
    await this.driver.remove(layout.blobLink(repo, digest));
    return true;
  }
}
