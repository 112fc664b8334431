import { moveDirectory } from '../../storage/move-directory.js';
import type { Digest } from '../../core/digest.js';
import type { Driver } from '../../storage/driver.js';
import { layout, QUARANTINE_PREFIX } from '../../storage/layout.js';
import type { ContentHasher } from './content-hasher.js';
import { isMissingObject } from '../../storage/driver.js';

export { QUARANTINE_PREFIX };

/** Beside the blob's own directory, under a name that no reader uses and no digest listing takes for a blob. */
export const quarantineDir = (digest: Digest): string => layout.blobQuarantine(digest);

export interface Repair {
  /**
   * `removed`: its bytes were still corrupt and are gone from the store; `whole`: whole on a
   * second look (good bytes were stored meanwhile, or the first read failed and this one did
   * not), and put back; `gone`: removed by someone else first, nothing left to repair.
   */
  outcome: 'removed' | 'whole' | 'gone';
  /** Bytes read for the second look. */
  bytes: number;
}

/**
 * The second look runs to its end even while serve shuts down: a blob left aside answers 404
 * until the next scrub settles it.
 */
const NEVER_STOPPED = new AbortController().signal;

/**
 * Removes a corrupt blob (or manifest: its bytes are a blob too) from the store, so that HEAD
 * answers 404 in every repository that links it and the next push (or pull through the cache)
 * stores it again; links, revisions and tags stay. The blob's directory is first moved aside in
 * one rename, so that readers and pushes see it gone at once, then hashed again: only bytes that
 * are still wrong are deleted. A push that committed good bytes just before the move (a gc had
 * removed the corrupt ones meanwhile) gets them back; one that committed meanwhile found no data
 * when it verified its link and was told to push again, as with a prune (see ImageStore).
 */
export async function removeCorrupt(driver: Driver, hasher: ContentHasher, digest: Digest): Promise<Repair> {
  try {
    await moveDirectory(driver, layout.blobDir(digest), quarantineDir(digest));
  } catch (err) {
    if (isMissingObject(err)) return { outcome: 'gone', bytes: 0 };
    throw err;
  }
  return settleQuarantined(driver, hasher, digest);
}

/** Finishes a repair of `digest` whose directory is aside: deletes it, or puts it back when whole. */
export async function settleQuarantined(driver: Driver, hasher: ContentHasher, digest: Digest): Promise<Repair> {
  const aside = quarantineDir(digest);
  const second = await hasher.hash(`${aside}/data`, digest.algorithm, NEVER_STOPPED);
  if (second.state === 'hashed' && second.hex === digest.hex) {
    // Back home, unless a push has stored the same bytes there meanwhile: then ours are a copy.
    await moveDirectory(driver, aside, layout.blobDir(digest)).catch(() => driver.remove(aside));
    return { outcome: 'whole', bytes: second.bytes };
  }
  await driver.remove(aside);
  return { outcome: second.state === 'missing' ? 'gone' : 'removed', bytes: second.bytes };
}
