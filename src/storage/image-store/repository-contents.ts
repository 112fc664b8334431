import { moveDirectory } from '../move-directory.js';
import { tryParseDigest, type Digest } from '../../core/digest.js';
import type { Driver, FileInfo } from '../driver.js';
import { COLLECTING_PREFIX, layout, PRUNING_PREFIX } from '../layout.js';
import { Parking } from './parking.js';

function latest(files: Array<FileInfo | undefined>): number {
  return Math.max(0, ...files.map((file) => file?.modifiedMs ?? 0));
}

/** When a manifest came into a repository, and when it was last pulled (the same when never). */
export interface ManifestTimes {
  createdMs: number;
  accessedMs: number;
}

/** Digests named by the entries of an `<alg>/<hex>` directory tree, and those parked there by a collection. */
export interface DigestEntries {
  digests: Digest[];
  parked: Digest[];
}

/** Blob data freed: which, and how many bytes each. */
export interface FreedBlob {
  digest: Digest;
  size: number;
}

/** What decides, once data is parked, whether it goes. */
export interface FreeChecks {
  /** Digests that something references now; asked once, after all of the batch is parked. */
  referencedNow: () => Promise<Set<string>>;
  /** Data used recently enough (its use mark, see parking.ts) is kept; looked at before parking and after. */
  inUse?: (data: FileInfo) => boolean;
}

/**
 * What a repository holds, read from its directories, and the moves of content that maintenance
 * (pruning the pull-through cache, garbage collection) makes while it checks nobody uses it:
 * never for a request.
 */
export class RepositoryContents {
  private readonly parking: Parking;

  constructor(private readonly driver: Driver) {
    this.parking = new Parking(driver);
  }

  /** Digests named by the entries of an `<alg>/<hex>` directory tree (layer links, revisions). */
  async digestsUnder(dir: string): Promise<Digest[]> {
    return (await this.entriesUnder(dir)).digests;
  }

  /** The entries of an `<alg>/<hex>` directory tree, and what a collection parked there. */
  async entriesUnder(dir: string): Promise<DigestEntries> {
    const found: DigestEntries = { digests: [], parked: [] };
    for (const algorithm of await this.driver.list(dir)) {
      for (const name of await this.driver.list(`${dir}/${algorithm}`)) {
        const parked = name.startsWith(COLLECTING_PREFIX);
        const digest = tryParseDigest(`${algorithm}:${parked ? name.slice(COLLECTING_PREFIX.length) : name}`);
        if (digest) (parked ? found.parked : found.digests).push(digest);
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

  /** The manifest revisions of a repository, and those a collection parked. */
  manifestEntries(repo: string): Promise<DigestEntries> {
    return this.entriesUnder(layout.revisionsDir(repo));
  }

  /** The layer links of a repository, and those a collection parked. */
  linkEntries(repo: string): Promise<DigestEntries> {
    return this.entriesUnder(layout.layersDir(repo));
  }

  /** Every tag of a repository and the digest it names (tags that name none are left out). */
  async tags(repo: string): Promise<Map<string, Digest>> {
    const tags = new Map<string, Digest>();
    for (const tag of await this.driver.list(layout.tagsDir(repo))) {
      const raw = await this.driver.read(layout.tag(repo, tag));
      const digest = raw === undefined ? undefined : tryParseDigest(raw.toString('utf8').trim());
      if (digest) tags.set(tag, digest);
    }
    return tags;
  }

  /** The revision link's mtime is when the manifest arrived (it is written once); the access mark's is its last pull. */
  async manifestTimes(repo: string, digest: Digest): Promise<ManifestTimes | undefined> {
    const revision = await this.driver.stat(layout.manifestRevision(repo, digest));
    if (!revision) return undefined;
    const accessed = await this.driver.stat(layout.manifestAccess(repo, digest));
    return { createdMs: revision.modifiedMs, accessedMs: Math.max(revision.modifiedMs, accessed?.modifiedMs ?? 0) };
  }

  /**
   * The last sign of life of a manifest in a repository (ms since the epoch, 0 when none): its
   * arrival (its revision, parked or not), its last pull, and the last use marked on its bytes.
   */
  async manifestLastUsed(repo: string, digest: Digest): Promise<number> {
    const paths = [layout.manifestRevision(repo, digest), layout.revisionCollecting(repo, digest), layout.manifestAccess(repo, digest), layout.blobData(digest)];
    return latest(await Promise.all(paths.map((path) => this.driver.stat(path))));
  }

  /** The last sign of life of a layer link (0 when none): when it was made, and the last use marked on the blob's data. */
  async linkLastUsed(repo: string, digest: Digest): Promise<number> {
    return latest(await Promise.all([layout.blobLink(repo, digest), layout.blobData(digest)].map((path) => this.driver.stat(path))));
  }

  /** A manifest of the repository as it was pushed (its media type and bytes), straight from storage, not through the cache of hot manifests. */
  async readManifest(repo: string, digest: Digest): Promise<{ mediaType: string; bytes: Buffer } | undefined> {
    const mediaType = await this.driver.read(layout.manifestRevision(repo, digest));
    const bytes = mediaType === undefined ? undefined : await this.driver.read(layout.blobData(digest));
    return mediaType === undefined || bytes === undefined ? undefined : { mediaType: mediaType.toString('utf8'), bytes };
  }

  /** A blob's (or manifest's) stored data: its size, and in its mtime the last use marked (see parking.ts). */
  blobData(digest: Digest): Promise<FileInfo | undefined> {
    return this.driver.stat(layout.blobData(digest));
  }

  /** Marks a pull; not durable, since losing a mark only makes an image look older than it is. */
  markAccess(repo: string, digest: Digest): Promise<void> {
    return this.driver.writeAtomic(layout.manifestAccess(repo, digest), '', { durable: false });
  }

  /** Every blob in the store (manifests' bytes included), and the blob directories a collection or prune left parked. */
  async storedBlobs(): Promise<DigestEntries> {
    const found: DigestEntries = { digests: [], parked: [] };
    for (const algorithm of await this.driver.list('blobs')) {
      for (const prefix of await this.driver.list(`blobs/${algorithm}`)) {
        for (const name of await this.driver.list(`blobs/${algorithm}/${prefix}`)) {
          const parkedAs = [COLLECTING_PREFIX, PRUNING_PREFIX].find((parking) => name.startsWith(parking));
          const digest = tryParseDigest(`${algorithm}:${parkedAs === undefined ? name : name.slice(parkedAs.length)}`);
          if (digest) (parkedAs === undefined ? found.digests : found.parked).push(digest);
        }
      }
    }
    return found;
  }

  /**
   * Frees the data of `digests` except what `referencedNow` (asked once, after all of it is moved
   * aside) still finds referenced; resolves with the bytes freed. The data is parked under names
   * no reader uses before that last look, so a link made meanwhile either shows up in it (and its
   * data is put back) or finds the data parked and puts it back itself (see parking.ts).
   */
  async freeUnlessReferenced(digests: Digest[], referencedNow: () => Promise<Set<string>>): Promise<number> {
    const freed = await this.parkAndFree(digests, layout.blobPruning, { referencedNow });
    return freed.reduce((sum, blob) => sum + blob.size, 0);
  }

  /** Garbage collection's freeUnlessReferenced: parked under its own name, data in use kept too. */
  collectUnlessReferenced(digests: Digest[], checks: FreeChecks): Promise<FreedBlob[]> {
    return this.parkAndFree(digests, layout.blobCollecting, checks);
  }

  private async parkAndFree(digests: Digest[], parkedAt: (digest: Digest) => string, checks: FreeChecks): Promise<FreedBlob[]> {
    const inUse = checks.inUse ?? (() => false);
    const parked: Digest[] = [];
    for (const digest of digests) {
      const data = await this.driver.stat(layout.blobData(digest));
      if (data === undefined || inUse(data)) continue;
      try {
        await moveDirectory(this.driver, layout.blobDir(digest), parkedAt(digest));
        parked.push(digest);
      } catch {
        // Gone already, or moved by someone else: nothing of it to free here.
      }
    }
    if (parked.length === 0) return [];
    const referenced = await checks.referencedNow();
    const freed: FreedBlob[] = [];
    for (const digest of parked) {
      // The mark moved with the data: a use marked before the move shows here.
      const data = await this.driver.stat(`${parkedAt(digest)}/data`);
      if (data === undefined) continue; // put back by a request that needed it
      // Home again meanwhile (an upload committed the same content anew): the parked copy goes, nothing is freed.
      const homeAgain = (await this.driver.stat(layout.blobData(digest))) !== undefined;
      if (referenced.has(digest.value) || inUse(data) || homeAgain) {
        await this.putBack(parkedAt(digest), digest);
      } else {
        await this.driver.remove(parkedAt(digest));
        freed.push({ digest, size: data.size });
      }
    }
    return freed;
  }

  /**
   * Puts back blob data that a killed prune left parked. Put back, not removed: it was parked
   * before the last look for references, so nothing says it is unused (the next run looks again).
   */
  async clearPruneLeftovers(): Promise<void> {
    for (const digest of (await this.storedBlobs()).parked) await this.restoreParkedBlob(digest);
  }

  /** Puts a parked blob directory back (by collection or prune), or drops it when its content is home again already. */
  async restoreParkedBlob(digest: Digest): Promise<void> {
    for (const parked of [layout.blobCollecting(digest), layout.blobPruning(digest)]) await this.putBack(parked, digest);
  }

  /** Back where it was; when a push has put the same content there meanwhile, the parked copy goes. */
  private async putBack(parked: string, digest: Digest): Promise<void> {
    try {
      await moveDirectory(this.driver, parked, layout.blobDir(digest));
    } catch {
      if (await this.driver.stat(layout.blobData(digest))) await this.driver.remove(parked);
    }
  }

  /** Parks a layer link while a collection checks the blob is not in use; false when there was none. */
  parkLink(repo: string, digest: Digest): Promise<boolean> {
    return this.move(layout.blobLink(repo, digest), layout.blobLinkCollecting(repo, digest));
  }

  /** Puts a parked layer link back (over a new link to the same blob, if one was made meanwhile). */
  async unparkLink(repo: string, digest: Digest): Promise<void> {
    await this.parking.unparkLink(repo, digest);
  }

  /** Removes a parked layer link; false when a request had put it back already. */
  dropParkedLink(repo: string, digest: Digest): Promise<boolean> {
    return this.drop(layout.blobLinkCollecting(repo, digest));
  }

  /** Parks a manifest revision while a collection checks nothing keeps it; false when there was none. */
  parkRevision(repo: string, digest: Digest): Promise<boolean> {
    return this.move(layout.manifestRevision(repo, digest), layout.revisionCollecting(repo, digest));
  }

  /** Puts a parked manifest revision back (over one written meanwhile, by a push of the same manifest). */
  async unparkRevision(repo: string, digest: Digest): Promise<void> {
    await this.parking.unparkRevision(repo, digest);
  }

  /** Removes a parked manifest revision and its access mark; false when a request had put it back already. */
  async dropParkedRevision(repo: string, digest: Digest): Promise<boolean> {
    const dropped = await this.drop(layout.revisionCollecting(repo, digest));
    if (dropped && (await this.driver.stat(layout.manifestRevision(repo, digest))) === undefined) await this.driver.remove(layout.manifestAccess(repo, digest));
    return dropped;
  }

  /** Takes a manifest's entry out of the referrers index of its subject; resolves with it, to put back if the manifest stays. */
  async takeReferrerEntry(repo: string, subject: Digest, digest: Digest): Promise<Buffer | undefined> {
    const entry = await this.driver.read(layout.referrer(repo, subject, digest));
    if (entry !== undefined) await this.driver.remove(layout.referrer(repo, subject, digest));
    return entry;
  }

  /** Puts back a referrers index entry taken out (unless a push wrote it again meanwhile). */
  async putReferrerEntry(repo: string, subject: Digest, digest: Digest, entry: Buffer): Promise<void> {
    if ((await this.driver.stat(layout.referrer(repo, subject, digest))) === undefined) await this.driver.writeAtomic(layout.referrer(repo, subject, digest), entry);
  }

  private async move(from: string, to: string): Promise<boolean> {
    try {
      await this.driver.move(from, to);
      return true;
    } catch {
      return false;
    }
  }

  private async drop(path: string): Promise<boolean> {
    if ((await this.driver.stat(path)) === undefined) return false;
    await this.driver.remove(path);
    return true;
  }

  /** Every digest a repository holds: its manifests and the blobs linked into it. */
  async referenced(repo: string): Promise<Digest[]> {
    return [...(await this.manifests(repo)), ...(await this.linkedBlobs(repo))];
  }

  async blobSize(digest: Digest): Promise<number> {
    return (await this.driver.stat(layout.blobData(digest)))?.size ?? 0;
  }
}
