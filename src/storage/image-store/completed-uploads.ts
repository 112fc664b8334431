import type { Digest } from '../../core/digest.js';
import type { Driver } from '../driver.js';
import { COMPLETED_UPLOADS, layout } from '../layout.js';

interface CompletedUpload {
  repo: string;
  digest: string;
  size: number;
}

/**
 * What each finished upload session stored, kept for `uploadExpiry` after the session itself is
 * gone. A client whose closing PUT was cut off by a crash (or a dropped connection) retries it;
 * the session may already have been removed, and the retry must then be told 201 again instead
 * of "unknown session" (HTTP's PUT is idempotent). Written after the blob is durable and linked,
 * before the session goes, so that at every instant one of the two answers for it.
 */
export class CompletedUploads {
  constructor(private readonly driver: Driver) {}

  /** Not durable: after a power loss the session itself may be back, and its retry re-verifies. */
  async record(id: string, repo: string, digest: Digest, size: number): Promise<void> {
    const entry: CompletedUpload = { repo, digest: digest.value, size };
    await this.driver.writeAtomic(layout.completedUpload(id), JSON.stringify(entry), { durable: false });
  }

  /** The size of the blob session `id` stored as `digest` in `repo`, if it did and is still linked there. */
  async sizeOf(id: string, repo: string, digest: Digest): Promise<number | undefined> {
    const raw = await this.driver.read(layout.completedUpload(id));
    if (!raw) return undefined;
    let entry: CompletedUpload;
    try {
      entry = JSON.parse(raw.toString('utf8')) as CompletedUpload;
    } catch {
      return undefined;
    }
    if (entry.repo !== repo || entry.digest !== digest.value) return undefined;
    // Deleted or pruned since: then the retry has nothing to confirm.
    if (!(await this.driver.stat(layout.blobLink(repo, digest))) || !(await this.driver.stat(layout.blobData(digest)))) return undefined;
    return entry.size;
  }

  /** Forgets sessions completed longer than `maxAgeMs` ago; resolves with how many went. */
  async purge(maxAgeMs: number, isSessionId: (id: string) => boolean): Promise<number> {
    const now = Date.now();
    let removed = 0;
    for (const id of await this.driver.list(COMPLETED_UPLOADS)) {
      if (!isSessionId(id)) continue;
      const written = (await this.driver.stat(layout.completedUpload(id)))?.modifiedMs;
      if (written === undefined || now - written <= maxAgeMs) continue;
      await this.driver.remove(layout.completedUpload(id));
      removed += 1;
    }
    return removed;
  }
}
