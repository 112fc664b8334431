import { isDigestAlgorithm, tryParseDigest, type Digest } from '../../core/digest.js';
import { mapLimited } from '../../storage/concurrency.js';
import type { Driver } from '../../storage/driver.js';
import { BLOBS, layout } from '../../storage/layout.js';
import type { LocalCache } from '../../storage/local-cache.js';
import { QUARANTINE_PREFIX } from './repair.js';

/** Directory reads and stats in flight while listing: the disk kept busy, the thread pool not hogged. */
const LISTING_CONCURRENCY = 8;

export type ScrubKind = 'blob' | 'manifest';

/** One stored file to hash. */
export interface ScrubItem {
  digest: Digest;
  /** `manifest` when a repository holds it as a manifest revision. */
  kind: ScrubKind;
  size: number;
}

/** What a scrub covers, known before it hashes anything (for its progress and its reports). */
export interface Inventory {
  items: ScrubItem[];
  bytes: number;
  /** Every repository, to name those that link a corrupt item. */
  repositories: string[];
  /** Blobs that a repair cut short (a killed scrub) left aside. */
  quarantined: Digest[];
}

interface BlobListing {
  blobs: Array<{ digest: Digest; size: number }>;
  quarantined: Digest[];
}

async function listPrefix(driver: Driver, algorithm: string, prefix: string, into: BlobListing): Promise<void> {
  for (const entry of await driver.list(`${BLOBS}/${algorithm}/${prefix}`)) {
    if (entry.startsWith(QUARANTINE_PREFIX)) {
      const digest = tryParseDigest(`${algorithm}:${entry.slice(QUARANTINE_PREFIX.length)}`);
      if (digest) into.quarantined.push(digest);
      continue;
    }
    // Anything else that names no digest (prune's parked directories) is not content.
    const digest = tryParseDigest(`${algorithm}:${entry}`);
    if (!digest) continue;
    const size = (await driver.stat(layout.blobData(digest)))?.size;
    if (size !== undefined) into.blobs.push({ digest, size });
  }
}

/** Every blob file with its size, in the order of the tree. */
async function listBlobs(driver: Driver, signal: AbortSignal): Promise<BlobListing> {
  const prefixes: Array<{ algorithm: string; prefix: string }> = [];
  for (const algorithm of await driver.list(BLOBS)) {
    if (!isDigestAlgorithm(algorithm)) continue;
    for (const prefix of (await driver.list(`${BLOBS}/${algorithm}`)).sort()) prefixes.push({ algorithm, prefix });
  }
  const listings = await mapLimited(prefixes, LISTING_CONCURRENCY, async ({ algorithm, prefix }) => {
    const listing: BlobListing = { blobs: [], quarantined: [] };
    if (!signal.aborted) await listPrefix(driver, algorithm, prefix, listing);
    return listing;
  });
  return { blobs: listings.flatMap((listing) => listing.blobs), quarantined: listings.flatMap((listing) => listing.quarantined) };
}

/**
 * The first pass of a scrub: every blob file and its size, then which of them are manifests.
 * Blobs are listed first: a manifest's bytes are stored before its revision link, so a manifest
 * pushed during the listing is either missed altogether or known as a manifest, never taken for
 * a plain blob.
 */
export async function takeInventory(store: LocalCache, driver: Driver, signal: AbortSignal): Promise<Inventory> {
  const { blobs, quarantined } = await listBlobs(driver, signal);
  const repositories = (await store.repositoriesOnDisk()).sort();
  const manifestLists = await mapLimited(repositories, LISTING_CONCURRENCY, (repo) => (signal.aborted ? Promise.resolve([]) : store.contents.manifests(repo)));
  const manifests = new Set(manifestLists.flatMap((digests) => digests.map((digest) => digest.value)));
  let bytes = 0;
  const items = blobs.map(({ digest, size }): ScrubItem => {
    bytes += size;
    return { digest, kind: manifests.has(digest.value) ? 'manifest' : 'blob', size };
  });
  return { items, bytes, repositories, quarantined };
}
