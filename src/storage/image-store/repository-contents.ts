import { tryParseDigest, type Digest } from '../../core/digest.js';
import type { Driver } from '../driver.js';
import { layout, PRUNING_PREFIX } from '../layout.js';

/** When a manifest came into a repository, and when it was last pulled (the same when never). */
export interface ManifestTimes {
  createdMs: number;
  accessedMs: number;
}

/**
 * What a repository holds, read from its directories: for maintenance (pruning the pull-through
 * cache), never for a request.
 */
export class RepositoryContents {
  constructor(private readonly driver: Driver) {}

  /** Digests named by the entries of an `<alg>/<hex>` directory tree (layer links, revisions). */
  async digestsUnder(dir: string): Promise<Digest[]> {
    const found: Digest[] = [];
    for (const algorithm of await this.driver.list(dir)) {
      for (const hex of await this.driver.list(`${dir}/${algorithm}`)) {
        const digest = tryParseDigest(`${algorithm}:${hex}`);
        if (digest) found.push(digest);
      }
    }
    return found;
  }

  manifests(repo: string): Promise<Digest[]> {
    return this.digestsUnder(layout.revisionsDir(repo));
  }

  linkedBlobs(repo: string): Promise<Digest[]> {
    return this.digestsUnder(layout.layersDir(repo));
  }

  /** The revision link's mtime is when the manifest arrived (it is written once); the access mark's is its last pull. */
  async manifestTimes(repo: string, digest: Digest): Promise<ManifestTimes | undefined> {
    const revision = await this.driver.stat(layout.manifestRevision(repo, digest));
    if (!revision) return undefined;
    const accessed = await this.driver.stat(layout.manifestAccess(repo, digest));
    return { createdMs: revision.modifiedMs, accessedMs: Math.max(revision.modifiedMs, accessed?.modifiedMs ?? 0) };
  }

  /** Marks a pull; not durable, since losing a mark only makes an image look older than it is. */
  markAccess(repo: string, digest: Digest): Promise<void> {
    return this.driver.writeAtomic(layout.manifestAccess(repo, digest), '', { durable: false });
  }

  /**
   * Removes a blob's data unless `stillReferenced` (asked after the data is moved aside) finds a
   * reference; resolves with the bytes freed. The data is parked under a name no reader uses
   * before the last check, so a link made meanwhile either is seen by that check (and the data
   * put back) or finds the data gone when it verifies it (see ImageStore's linking).
   */
  async removeBlobDataUnlessReferenced(digest: Digest, stillReferenced: () => Promise<boolean>): Promise<number> {
    const size = (await this.driver.stat(layout.blobData(digest)))?.size;
    if (size === undefined) return 0;
    try {
      await this.driver.rename(layout.blobDir(digest), layout.blobPruning(digest));
    } catch {
      return 0;
    }
    if (await stillReferenced()) {
      // Back where it was, unless a push has put the same content there meanwhile.
      await this.driver.rename(layout.blobPruning(digest), layout.blobDir(digest)).catch(() => this.driver.remove(layout.blobPruning(digest)));
      return 0;
    }
    await this.driver.remove(layout.blobPruning(digest));
    return size;
  }

  /** Removes what a prune that was killed left parked. */
  async clearPruneLeftovers(): Promise<void> {
    for (const algorithm of await this.driver.list('blobs')) {
      for (const prefix of await this.driver.list(`blobs/${algorithm}`)) {
        for (const entry of await this.driver.list(`blobs/${algorithm}/${prefix}`)) {
          if (entry.startsWith(PRUNING_PREFIX)) await this.driver.remove(`blobs/${algorithm}/${prefix}/${entry}`);
        }
      }
    }
  }

  /** Whether any of `repositories` links the digest as a blob or holds it as a manifest. */
  async referencedByAny(repositories: string[], digest: Digest): Promise<boolean> {
    for (const repo of repositories) {
      if (await this.driver.stat(layout.blobLink(repo, digest))) return true;
      if (await this.driver.stat(layout.manifestRevision(repo, digest))) return true;
    }
    return false;
  }

  async blobSize(digest: Digest): Promise<number> {
    return (await this.driver.stat(layout.blobData(digest)))?.size ?? 0;
  }
}
