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
   * Frees the data of `digests` except what `referencedNow` (asked once, after all of it is moved
   * aside) still finds referenced; resolves with the bytes freed. The data is parked under names
   * no reader uses before that last look, so a link made meanwhile either shows up in it (and its
   * data is put back) or finds the data gone when it verifies it (see ImageStore's linking).
   */
  async freeUnlessReferenced(digests: Digest[], referencedNow: () => Promise<Set<string>>): Promise<number> {
    const parked: Array<{ digest: Digest; size: number }> = [];
    for (const digest of digests) {
      const size = (await this.driver.stat(layout.blobData(digest)))?.size;
      if (size === undefined) continue;
      try {
        await this.driver.rename(layout.blobDir(digest), layout.blobPruning(digest));
        parked.push({ digest, size });
      } catch {
        // Gone already, or moved by someone else: nothing of it to free here.
      }
    }
    if (parked.length === 0) return 0;
    const referenced = await referencedNow();
    let freed = 0;
    for (const { digest, size } of parked) {
      if (referenced.has(digest.value)) {
        // Back where it was, unless a push has put the same content there meanwhile.
        await this.driver.rename(layout.blobPruning(digest), layout.blobDir(digest)).catch(() => this.driver.remove(layout.blobPruning(digest)));
      } else {
        await this.driver.remove(layout.blobPruning(digest));
        freed += size;
      }
    }
    return freed;
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

  /** Every digest a repository holds: its manifests and the blobs linked into it. */
  async referenced(repo: string): Promise<Digest[]> {
    return [...(await this.manifests(repo)), ...(await this.linkedBlobs(repo))];
  }

  async blobSize(digest: Digest): Promise<number> {
    return (await this.driver.stat(layout.blobData(digest)))?.size ?? 0;
  }
}
