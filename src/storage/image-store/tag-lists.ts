import type { Driver } from '../driver.js';
import type { CacheSize } from '../types.js';
import { layout } from '../layout.js';

/**
 * A directory's mtime comes from a coarse clock (a kernel tick locally, a second or more on some
 * network file systems), so two changes close together can leave the same mtime. A listing read
 * while its directory's mtime is this recent is kept but not trusted: the next request reads the
 * directory again (git's "racy clean" rule).
 */
const RACY_WINDOW_MS = 2000;

/** Tags kept in memory across all repositories; beyond this the least recently listed go. */
const DEFAULT_MAX_TAGS = 200_000;

interface Listing {
  modifiedMs: number;
  trusted: boolean;
  tags: readonly string[];
  /** Characters of all the names: tags are ASCII, so about the bytes they take. */
  characters: number;
}

/**
 * Each repository's sorted tag names, re-read only when its tags directory changes. Reading a
 * 1000-entry directory and sorting it costs about 0.4 ms of CPU per request; one stat costs a few
 * microseconds. Validating by the directory's mtime, rather than by tracking this process's own
 * writes, keeps the listing right when another process (a prune job) changes the same storage.
 */
export class TagLists {
  private readonly listings = new Map<string, Listing>();
  private total = 0;
  private characters = 0;

  constructor(
    private readonly driver: Driver,
    private readonly maxTags = DEFAULT_MAX_TAGS,
  ) {}

  /** Sorted tag names; undefined when the repository has no tags directory. */
  async list(repo: string): Promise<readonly string[] | undefined> {
    const dir = layout.tagsDir(repo);
    const directories = this.driver.files;
    // Without directory times (an object store) there is nothing cheap to validate a listing by.
    if (!directories) return this.read(dir);
    const modifiedMs = await directories.directoryModified(dir);
    if (modifiedMs === undefined) {
      this.forget(repo);
      return undefined;
    }
    const cached = this.listings.get(repo);
    if (cached && cached.trusted && cached.modifiedMs === modifiedMs) {
      // Re-insert to mark as most recently used (Map keeps insertion order).
      this.listings.delete(repo);
      this.listings.set(repo, cached);
      return cached.tags;
    }
    const readAt = Date.now();
    const tags = (await this.read(dir)) ?? [];
    const characters = tags.reduce((sum, name) => sum + name.length, 0);
    this.remember(repo, { modifiedMs, trusted: readAt - modifiedMs > RACY_WINDOW_MS, tags, characters });
    return tags;
  }

  /** The sorted tag names in `dir`; undefined when there are none (no such directory, in an object store). */
  private async read(dir: string): Promise<string[] | undefined> {
    const tags = (await this.driver.list(dir)).filter((name) => !name.startsWith('.')).sort();
    return tags.length === 0 && !this.driver.files ? undefined : tags;
  }

  private remember(repo: string, listing: Listing): void {
    this.forget(repo);
    if (listing.tags.length > this.maxTags) return;
    this.listings.set(repo, listing);
    this.total += listing.tags.length;
    this.characters += listing.characters;
    for (const oldest of this.listings.keys()) {
      if (this.total <= this.maxTags) break;
      this.forget(oldest);
    }
  }

  private forget(repo: string): void {
    const old = this.listings.get(repo);
    if (!old) return;
    this.listings.delete(repo);
    this.total -= old.tags.length;
    this.characters -= old.characters;
  }

  /** Tag names held, and about the bytes they take. */
  get size(): CacheSize {
    return { entries: this.total, bytes: this.characters };
  }
}
