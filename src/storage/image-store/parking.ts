import { moveDirectory } from '../move-directory.js';
import type { Digest } from '../../core/digest.js';
import type { Driver, FileInfo } from '../driver.js';
import { layout } from '../layout.js';

/**
 * A use of stored content (a blob checked with HEAD, mounted or linked by an upload, a manifest
 * pushed again or listed by a pushed index) is written down as the modification time of its data
 * file, at most this often per blob: nearly every request finds the mark recent and writes
 * nothing. Garbage collection leaves content used within its grace period alone, so the grace
 * must be longer than this plus the longest push (docs/jobs.md).
 */
export const USE_MARK_EVERY_MS = 60_000;

/** Whether a data file's use mark is old enough to be written again. */
export function useMarkIsStale(data: FileInfo, now = Date.now()): boolean {
  return now - data.modifiedMs > USE_MARK_EVERY_MS;
}

/**
 * Content that garbage collection or pruning has parked under another name while it checks that
 * nobody uses it, put back by a request that needs it: a request that finds its link or data
 * parked is itself the proof that it is in use, and a collector that then finds the parked name
 * gone leaves the content where the request put it. Only ever tried when the content is missing
 * under its own name, so the request path pays nothing for it while nothing is parked.
 */
export class Parking {
  constructor(private readonly driver: Driver) {}

  private async unpark(parked: string, home: string, move = (from: string, to: string) => this.driver.move(from, to)): Promise<boolean> {
    try {
      await move(parked, home);
      return true;
    } catch {
      return false; // not parked (or dropped already)
    }
  }

  /** Puts a parked layer link back; true when there was one. */
  unparkLink(repo: string, digest: Digest): Promise<boolean> {
    return this.unpark(layout.blobLinkCollecting(repo, digest), layout.blobLink(repo, digest));
  }

  /** Puts a parked manifest revision back; true when there was one. */
  unparkRevision(repo: string, digest: Digest): Promise<boolean> {
    return this.unpark(layout.revisionCollecting(repo, digest), layout.manifestRevision(repo, digest));
  }

  /**
   * Puts a blob's parked data back (by collection or by pruning) and marks it used, so that the
   * next collection sees it recent; resolves with the data, or undefined when it is gone for good.
   */
  async unparkBlob(digest: Digest): Promise<FileInfo | undefined> {
    const moveBlob = (from: string, to: string): Promise<void> => moveDirectory(this.driver, from, to);
    if (!(await this.unpark(layout.blobCollecting(digest), layout.blobDir(digest), moveBlob))) await this.unpark(layout.blobPruning(digest), layout.blobDir(digest), moveBlob);
    const data = await this.driver.stat(layout.blobData(digest));
    if (data) await this.driver.touch(layout.blobData(digest));
    return data;
  }
}
