import type { Digest } from '../core/digest.js';
import type { PortholeLogger } from '../observability/logger.js';
import type { LocalCache } from '../storage/local-cache.js';

/** A manifest's last-pull mark is rewritten at most this often: pruning works in hours and days. */
const MARK_EVERY_MS = 10 * 60 * 1000;
/** Past this many remembered marks the memory is cleared (a few more rewrites, never unbounded growth). */
const MAX_REMEMBERED = 100_000;

/**
 * Records when cached manifests are pulled, for pruning by last access. A mark is written at most
 * every 10 minutes per manifest, so nearly every pull finds nothing to write; a failed write is logged,
 * never the pull's failure.
 */
export class AccessMarks {
  private readonly lastMarked = new Map<string, number>();

  constructor(
    private readonly local: LocalCache,
    private readonly log: PortholeLogger,
  ) {}

  async note(repo: string, digest: Digest): Promise<void> {
    const key = `${repo}@${digest.value}`;
    const now = Date.now();
    const last = this.lastMarked.get(key);
    if (last !== undefined && now - last < MARK_EVERY_MS) return;
    if (this.lastMarked.size >= MAX_REMEMBERED) this.lastMarked.clear();
    this.lastMarked.set(key, now);
    try {
      await this.local.contents.markAccess(repo, digest);
    } catch (err) {
      this.log.warn({ repo, digest: digest.value, err }, 'cannot record a cached manifest pull');
    }
  }
}
