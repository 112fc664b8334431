import { tryParseDigest, type Digest } from '../../core/digest.js';
import type { Driver } from '../driver.js';
import { layout } from '../layout.js';

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

  /** Whether any of `repositories` links the digest as a blob or holds it as a manifest. */
  async referencedByAny(repositories: string[], digest: Digest): Promise<boolean> {
    for (const repo of repositories) {
      if (await this.driver.stat(layout.blobLink(repo, digest))) return true;
      if (await this.driver.stat(layout.manifestRevision(repo, digest))) return true;
    }
    return false;
  }

  /** Removes a blob's data; resolves with the bytes freed (0 when it was not there). */
  async removeBlobData(digest: Digest): Promise<number> {
    const size = (await this.driver.stat(layout.blobData(digest)))?.size;
    if (size === undefined) return 0;
    await this.driver.remove(layout.blobDir(digest));
    return size;
  }

  async blobSize(digest: Digest): Promise<number> {
    return (await this.driver.stat(layout.blobData(digest)))?.size ?? 0;
  }
}
