import type { DigestAlgorithm } from '../../core/digest.js';
import type { Driver } from '../../storage/driver.js';
import { driverStreamHasher } from './driver-stream-hasher.js';
import { localFileHasher } from './local-file-hasher.js';

/** What reading one stored file through its hash gave. */
export type HashResult =
  /** Read to the end: `hex` is the digest of its bytes. */
  | { state: 'hashed'; hex: string; bytes: number }
  /** Not there (removed by gc, a delete or a prune since it was listed): nothing to say about it. */
  | { state: 'missing'; bytes: number }
  /** The storage could not give its bytes back (a media error): as bad as bytes that do not match. */
  | { state: 'unreadable'; bytes: number; error: string }
  /** The run was told to stop before the end of the file. */
  | { state: 'stopped'; bytes: number };

/** Reads a stored file (a driver path) and hashes it in the same pass. */
export interface ContentHasher {
  hash(path: string, algorithm: DigestAlgorithm, signal: AbortSignal): Promise<HashResult>;
}

/**
 * The fastest way to hash what `driver` stores: on the filesystem driver, files under `root` read
 * directly with large positioned reads into reused buffers; on any other driver, its own read
 * stream. Over large files in the page cache, two at a time, the driver's stream (256 KiB chunks
 * sized for downloads, a new buffer each) hashed at about 75% of one core's sha256, direct reads
 * at over 90% (bench/scrub-rate.ts measures the whole run).
 */
export function hasherFor(driver: Driver, root: string): ContentHasher {
  return driver.name === 'filesystem' ? localFileHasher(root) : driverStreamHasher(driver);
}
